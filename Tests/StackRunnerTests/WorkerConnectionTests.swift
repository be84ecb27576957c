import Foundation
import POSIXSupport
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A worker's socket under attack by a peer allowed to reach it (any `www-data` process in
/// production, any local user for loopback TCP workers): connections that say nothing, or a
/// byte a second, never take the threads that nginx's requests need.
@Suite("Worker connections", .serialized)
struct WorkerConnectionTests {
    static func threads(of pid: Int32) -> Int? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            .flatMap { Int($0.split(separator: "\t").last ?? "") }
    }

    @Test(
        "600 silent connections renewed as they are dropped, and 50 dribbling a byte a second: pings through nginx and straight to the worker stay 200, within 10 ms at nginx"
    )
    func silentAndDribblingPeers() throws {
        let stack = try TestStack(workers: 1, cost: 4)
        defer { _ = try? stack.stop() }
        let worker = try #require(stack.workerProcessIDs.first)
        let threadsBefore = try #require(Self.threads(of: worker))
        let endpoint = SocketEndpoint.unix(path: stack.runtimeDirectory + "/worker-0.sock")
        let request = FastCGIRecords.request([("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/api/ping")])

        let attackSeconds = 4.0
        let started = MonotonicClock.now
        let opened = ConcurrencyCounter()
        let attacker = Thread {
            var silent: [FileDescriptor] = []
            var dribblers: [(connection: FileDescriptor, sent: Int)] = []
            var lastByte = 0.0
            while MonotonicClock.now - started < attackSeconds {
                // Keep 600 silent connections open: the ones the worker dropped are opened again.
                silent.removeAll { connection in
                    var probe: UInt8 = 0
                    let gone = recv(connection.rawValue, &probe, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
                    if gone { connection.close() }
                    return gone
                }
                while silent.count < 600, let connection = try? endpoint.connect(timeout: 1) {
                    silent.append(connection)
                    opened.enter()
                }
                while dribblers.count < 50, let connection = try? endpoint.connect(timeout: 1) {
                    dribblers.append((connection, 0))
                }
                if MonotonicClock.now - lastByte >= 1 {
                    lastByte = MonotonicClock.now
                    dribblers = dribblers.compactMap { dribbler in
                        guard dribbler.sent < request.count - 1,
                            (try? dribbler.connection.writeAll([request[dribbler.sent]])) != nil
                        else {
                            dribbler.connection.close()
                            return nil
                        }
                        return (dribbler.connection, dribbler.sent + 1)
                    }
                }
                // Renewed ten times a second: a worker that drops them at 1 s never sees fewer than 600
                // for long, and the attacker's own looking costs this machine little.
                usleep(100_000)
            }
            for connection in silent { connection.close() }
            for dribbler in dribblers { dribbler.connection.close() }
        }
        attacker.start()
        usleep(300_000)  // the attack is in place

        // Pings through nginx, a burst of eight at once now and then (more than the connections
        // nginx keeps idle, so it opens new ones), and pings straight to the worker's socket, as
        // nginx's first connections after a reload would be.
        let client = stack.client(timeout: 5)
        var statuses: [Int] = []
        var direct: [Bool] = []
        var round = 0
        while MonotonicClock.now - started < attackSeconds - 0.2 {
            if round % 10 == 0 {
                let burst = ConcurrencyCounter()
                concurrently(8) { _ in
                    if (try? stack.client(timeout: 5).request("GET", "/api/ping").status) == 200 { burst.enter() }
                }
                statuses.append(contentsOf: Array(repeating: 200, count: burst.count))
                statuses.append(contentsOf: Array(repeating: 0, count: 8 - burst.count))
            }
            statuses.append((try? client.request("GET", "/api/ping").status) ?? 0)
            let answer = try? FastCGITestClient.exchange(endpoint, request, timeout: 1)
            direct.append(answer.map { FastCGITestClient.standardOutput(of: $0).contains(#""ok":true"#) } ?? false)
            round += 1
            usleep(20_000)
        }
        while !attacker.isFinished { usleep(50_000) }
        usleep(1_500_000)  // nginx writes its access log every second

        #expect(statuses.count >= 100)
        #expect(statuses.allSatisfy { $0 == 200 }, "pings beside the attack: \(statuses.filter { $0 != 200 })")
        #expect(
            direct.allSatisfy { $0 },
            "direct pings to the worker: \(direct.filter { !$0 }.count) of \(direct.count) failed")
        #expect(opened.count > 600, "the worker dropped silent connections, and the attacker opened them again")
        let times = stack.accessLog.filter { $0["uri"] as? String == "/api/ping" }
            .compactMap { ($0["request_time"] as? Double) ?? Double($0["request_time"] as? String ?? "") }.sorted()
        #expect(times.count >= statuses.count)
        let p99 = times.isEmpty ? .infinity : times[min(times.count - 1, times.count * 99 / 100)]
        #expect(p99 <= 0.010, "ping p99 at nginx: \(p99) s")
        #expect(Self.threads(of: worker) == threadsBefore, "no thread was added or lost")
    }

    @Test("a worker out of descriptors (EMFILE) keeps every thread, and accepts again once connections are closed")
    func descriptorExhaustion() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-emfile")
        let socket = directory + "/w.sock"
        // 64 descriptors in all: the 200 connections below run the worker out of them.
        let worker = try ChildProcess.spawn(
            executable: "/usr/bin/prlimit",
            arguments: [
                "--nofile=64:64", "--", try TestBinary.path, "worker", "--listen", "unix:" + socket, "--threads", "8",
                "--cost", "4", "--no-admission",
            ], standardOutput: directory + "/worker.log")
        defer {
            kill(worker.pid, SIGTERM)
            _ = try? worker.wait(timeout: 10)
        }
        let endpoint = SocketEndpoint.unix(path: socket)
        let request = FastCGIRecords.request([("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/api/ping")])
        func ping() -> Bool {
            guard let answer = try? FastCGITestClient.exchange(endpoint, request, timeout: 3) else { return false }
            return FastCGITestClient.standardOutput(of: answer).contains(#""ok":true"#)
        }
        let started = MonotonicClock.now
        while !ping(), MonotonicClock.now - started < 10 { usleep(50_000) }
        let threadsBefore = try #require(Self.threads(of: worker.pid))

        var silent: [FileDescriptor] = []
        for _ in 0..<200 {
            guard let connection = try? endpoint.connect(timeout: 0.2) else { break }
            silent.append(connection)
        }
        #expect(silent.count > 64, "more connections than the worker has descriptors")
        usleep(500_000)
        for connection in silent { connection.close() }
        // Its descriptors free again, the worker serves, with every thread it had.
        var served = false
        let retried = MonotonicClock.now
        while !served, MonotonicClock.now - retried < 5 { served = ping() }
        #expect(served, "the worker answers again after running out of descriptors")
        #expect(Self.threads(of: worker.pid) == threadsBefore)
        let log = (try? String(contentsOfFile: directory + "/worker.log", encoding: .utf8)) ?? ""
        #expect(!log.contains("fatal"), "\(log.suffix(2000))")
    }
}
