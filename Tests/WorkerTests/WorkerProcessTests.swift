// Longer than most files: one suite over the worker binary, sharing its start and socket helpers.
import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The `fullyloaded worker` binary, driven without nginx by libfcgi's `cgi-fcgi`.
@Suite("fullyloaded worker", .serialized)
struct WorkerProcessTests {
    /// Waits until something listens at `path`; a worker that never does fails the test.
    func waitForSocket(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for _ in 0..<1000 {
            if let socket = try? SocketEndpoint.unix(path: path).connect(timeout: 1) {
                socket.close()
                return
            }
            usleep(10_000)
        }
        Issue.record("nothing listened at \(path) within 10 s", sourceLocation: sourceLocation)
        throw TestStackError.notReady(log: "no worker at \(path)")
    }

    @Test(
        "serves the API on a unix socket, bcrypt's threads at nice 10; SIGTERM lets a hash in flight finish, then exits 0"
    )
    func gracefulStop() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-worker")
        let socket = directory + "/w.sock"
        let worker = try ChildProcess.spawn(
            executable: TestBinary.path,
            arguments: [
                "worker", "--listen", "unix:\(socket)", "--threads", "4", "--cost", "12", "--max-cost", "12",
                "--segment", directory + "/segment",
            ],
            standardOutput: directory + "/worker.log")
        try waitForSocket(socket)
        #expect(
            try FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/ping?x=1").contains(#""ok":true"#))
        // Its memory holds passwords: no core file may be written, whatever the shell's ulimit.
        let limits = try String(contentsOfFile: "/proc/\(worker.pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
        #expect(
            core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"], "\(core)")
        // bcrypt runs below the request threads: every compute thread at nice 10, every other at 0.
        var niceness: [String: Set<Int>] = [:]
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(worker.pid)/task") {
            guard let stat = try? String(contentsOfFile: "/proc/\(worker.pid)/task/\(task)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { continue }
            // After the name: the state is field 3 of stat(5), the nice value field 19.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 16, let nice = Int(fields[16]) else { continue }
            let kind = stat[stat.index(after: open)..<close].hasPrefix("compute-") ? "compute" : "other"
            niceness[kind, default: []].insert(nice)
        }
        #expect(niceness == ["compute": [10], "other": [0]], "nice values by thread kind: \(niceness)")

        // One cost-12 hash (a quarter of a second) in flight when SIGTERM arrives.
        let answer = ConcurrencyCounter()
        let client = Thread {
            if (try? FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/load"))?.contains("$2b$12$")
                == true
            {
                answer.enter()
            }
        }
        client.start()
        usleep(80_000)
        worker.send(SIGTERM)
        #expect(try worker.wait(timeout: 15) == .exited(0))
        while !client.isFinished { usleep(10_000) }
        #expect(answer.count == 1, "the hash in flight was answered")
        #expect(!FileManager.default.fileExists(atPath: socket), "the worker removed its socket")
        let log = try String(contentsOfFile: directory + "/worker.log", encoding: .utf8)
        #expect(log.contains(#""event":"stopped""#) && log.contains(#""drained":true"#), "\(log)")
    }

    @Test(
        "an inherited socket (fd:3, as systemd hands it over) outlives the worker: the next one serves from it, connections made between the two included"
    )
    func inheritedSocketOutlivesTheWorker() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-worker")
        let socket = directory + "/inherited.sock"
        // The test holds the socket, as systemd does, for the whole run.
        let listener = try SocketEndpoint.unix(path: socket).listen(backlog: 16)
        defer { listener.close() }
        func startWorker(_ extra: [String] = []) throws -> ChildProcess {
            try ChildProcess.spawn(
                executable: TestBinary.path,
                arguments: [
                    "worker", "--listen", "fd:3", "--threads", "4", "--min-cost", "4", "--segment",
                    directory + "/segment",
                ] + extra,
                standardOutput: directory + "/worker.log", inheritedDescriptors: [listener.rawValue])
        }
        let hash = #"{"password":"p","cost":4}"#
        let first = try startWorker()
        #expect(
            try FastCGITestClient.request(socket: socket, method: "POST", uri: "/api/hash", body: hash).contains(
                "$2b$04$"))
        #expect(try first.stop(signal: SIGTERM, grace: 10) == .exited(0))

        // No worker now: a request waits in the socket's queue instead of failing.
        let waiting = Mutex<String?>(nil)
        let thread = Thread {
            let answer = try? FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/ping")
            waiting.withLock { $0 = answer ?? "failed" }
        }
        thread.start()
        usleep(300_000)
        #expect(waiting.withLock { $0 } == nil, "answered with no worker running")

        // The next worker recycles after 3 requests: it exits 0 by itself, leaving the socket intact.
        let second = try startWorker(["--max-requests", "3"])
        let deadline = MonotonicClock.now + 10
        while waiting.withLock({ $0 }) == nil, MonotonicClock.now < deadline { usleep(20_000) }
        #expect(
            waiting.withLock { $0 }?.contains(#""ok":true"#) == true, "\(String(describing: waiting.withLock { $0 }))")
        for _ in 0..<2 {
            #expect(try FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/ping").contains("ok"))
        }
        #expect(try second.wait(timeout: 10) == .exited(0))
        let third = try startWorker()
        #expect(
            try FastCGITestClient.request(socket: socket, method: "POST", uri: "/api/hash", body: hash).contains(
                "$2b$04$"))
        #expect(try third.stop(signal: SIGTERM, grace: 10) == .exited(0))
        let log = try String(contentsOfFile: directory + "/worker.log", encoding: .utf8)
        #expect(log.contains(#""reason":"max_requests""#), "\(log)")
    }

    @Test("a bad --listen or cost range is a clear error")
    func badArguments() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-worker")
        for (arguments, message) in [
            (["--listen", "nowhere"], "is not unix:/path"),
            (["--listen", "unix:\(directory)/x.sock", "--cost", "20"], "outside the allowed"),
            (["--listen", "unix:\(directory)/x.sock", "--min-cost", "2"], "within bcrypt's 4...31"),
            (["--listen", "0.0.0.0:9"], "say which with --allow-peer"),
            (["--listen", "127.0.0.1:9", "--allow-peer", "front.example"], "is not an address"),
        ] {
            let log = directory + "/bad-\(message.count).log"
            let worker = try ChildProcess.spawn(
                executable: TestBinary.path, arguments: ["worker"] + arguments, standardOutput: log)
            #expect(try worker.wait(timeout: 10) == .exited(64))
            #expect(try String(contentsOfFile: log, encoding: .utf8).contains(message))
        }
    }

    @Test("on TCP, a worker serves only its allowed peers: a foreign one is closed unanswered and logged")
    func tcpPeers() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-worker")
        func worker(_ extra: [String]) throws -> (ChildProcess, String) {
            let port = try LoopbackPort.ephemeral()
            let process = try ChildProcess.spawn(
                executable: TestBinary.path,
                arguments: [
                    "worker", "--listen", "127.0.0.1:\(port)", "--threads", "4", "--segment", directory + "/segment",
                ] + extra,
                standardOutput: directory + "/tcp-\(port).log")
            for _ in 0..<1000 {
                if let socket = try? SocketEndpoint.tcp(host: "127.0.0.1", port: port).connect(timeout: 1) {
                    socket.close()
                    break
                }
                usleep(10_000)
            }
            return (process, "127.0.0.1:\(port)")
        }
        let (foreign, foreignAddress) = try worker(["--allow-peer", "192.0.2.10", "--allow-peer", "198.51.100.0/24"])
        let refused = try FastCGITestClient.request(socket: foreignAddress, method: "GET", uri: "/api/ping")
        #expect(!refused.contains("ok"), "\(refused)")
        #expect(try foreign.stop(signal: SIGTERM, grace: 10) == .exited(0))
        let log = try String(
            contentsOfFile: directory + "/tcp-\(foreignAddress.split(separator: ":")[1]).log", encoding: .utf8)
        #expect(log.contains(#""event":"peer_refused""#) && log.contains(#""peer":"127.0.0.1""#), "\(log)")

        let (local, localAddress) = try worker([])
        let served = try FastCGITestClient.request(socket: localAddress, method: "GET", uri: "/api/ping")
        #expect(served.contains(#""ok":true"#), "loopback is allowed by default: \(served)")
        #expect(try local.stop(signal: SIGTERM, grace: 10) == .exited(0))
    }

    @Test("the cost floor is 10 unless --cost is lower or --min-cost says otherwise")
    func costFloor() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-worker")
        for (extra, refused, accepted) in [([String](), 9, 10), (["--cost", "5"], 4, 5), (["--min-cost", "6"], 5, 6)] {
            let socket = directory + "/floor-\(refused).sock"
            let worker = try ChildProcess.spawn(
                executable: TestBinary.path,
                arguments: ["worker", "--listen", "unix:\(socket)", "--threads", "4", "--no-admission"] + extra,
                standardOutput: directory + "/floor-\(refused).log")
            try waitForSocket(socket)
            let low = try FastCGITestClient.request(
                socket: socket, method: "POST", uri: "/api/hash", body: #"{"password":"p","cost":\#(refused)}"#)
            #expect(low.contains("cost_out_of_range"), "\(extra): \(low)")
            let floor = try FastCGITestClient.request(
                socket: socket, method: "POST", uri: "/api/hash", body: #"{"password":"p","cost":\#(accepted)}"#)
            #expect(floor.contains(#""hash":"$2b$"#), "\(extra): \(floor)")
            #expect(try worker.stop(signal: SIGTERM, grace: 10) == .exited(0))
        }
    }
}
