import POSIXSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("System calls, processes and sockets")
struct POSIXSupportTests {
    @Test("a failed call throws an error naming the call and its errno")
    func errorNamesTheCall() {
        let missing = SocketEndpoint.unix(path: "/tmp/fullyloaded-no-such-socket-\(getpid())")
        do {
            _ = try missing.connect(timeout: 1)
            Issue.record("connect to a missing socket succeeded")
        } catch {
            #expect(error.errno == ENOENT)
            #expect(error.call.hasPrefix("connect("))
            #expect(error.description.contains("No such file or directory"))
        }
    }

    @Test("spawned children report how they ended")
    func childExitStatus() throws {
        let ok = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "exit 3"])
        #expect(try ok.wait(timeout: 10) == .exited(3))
        let sleeper = try ChildProcess.spawn(executable: "/bin/sleep", arguments: ["30"])
        #expect(try sleeper.reapIfEnded() == nil)
        #expect(try sleeper.stop(signal: SIGTERM, grace: 5) == .signaled(SIGTERM))
    }

    @Test("a child that ignores SIGTERM is killed after the grace period")
    func stopEscalates() throws {
        let stubborn = try ChildProcess.spawn(executable: "/bin/sh", arguments: ["-c", "trap '' TERM; sleep 30"])
        usleep(200_000)
        #expect(try stubborn.stop(signal: SIGTERM, grace: 0.3) == .signaled(SIGKILL))
    }

    @Test("parses listen addresses")
    func parsesEndpoints() {
        #expect(SocketEndpoint(parsing: "unix:/run/a.sock") == .unix(path: "/run/a.sock"))
        #expect(SocketEndpoint(parsing: "/run/a.sock") == .unix(path: "/run/a.sock"))
        #expect(SocketEndpoint(parsing: "10.0.0.2:9000") == .tcp(host: "10.0.0.2", port: 9000))
        #expect(SocketEndpoint(parsing: ":9000") == .tcp(host: "127.0.0.1", port: 9000))
        #expect(SocketEndpoint(parsing: "nonsense") == nil)
        #expect(SocketEndpoint(parsing: "host:99999") == nil)
    }

    @Test("a taken loopback port is seen as taken")
    func portProbe() throws {
        let socket = try SocketEndpoint.tcp(host: "127.0.0.1", port: 0).listen(backlog: 1)
        let port = try socket.boundPort()
        #expect(!LoopbackPort.isFree(port))
        socket.close()
        #expect(LoopbackPort.isFree(port))
    }
}
