import FastCGI
import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Connections that send nothing, or a byte a second, straight to a worker's socket — anyone
/// who may connect to it can, a `www-data` process in production — against pings through nginx.
@Suite("Silent connections through nginx", .serialized)
struct SilentConnectionsThroughNginxTests {
    static func threads(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            .flatMap { Int($0.dropFirst("Threads:".count).trimmingCharacters(in: .whitespaces)) }
    }

    /// Keeps `count` connections open to `path`, opening a new one for each the worker closes,
    /// each sending a byte every `dribble` seconds (never, when `nil`), until `stop` is set.
    final class Attacker: @unchecked Sendable {
        let stop = Atomic<Bool>(false)
        let opened = Atomic<Int>(0)
        let closedByWorker = Atomic<Int>(0)

        func run(path: String, count: Int, dribble: Double?) {
            var connections: [FastCGIConnection] = []
            var lastByte = MonotonicClock.now
            let request = FastCGIRecords.request(keepConnection: true, parameters: [("REQUEST_METHOD", "GET")])
            var sent = 0
            while !stop.load(ordering: .relaxed) {
                while connections.count < count, !stop.load(ordering: .relaxed) {
                    guard let connection = try? FastCGIConnection(unixPath: path, timeout: 2) else { break }
                    connections.append(connection)
                    opened.add(1, ordering: .relaxed)
                }
                if let dribble, MonotonicClock.now - lastByte >= dribble {
                    lastByte = MonotonicClock.now
                    for connection in connections { try? connection.send([request[sent % request.count]]) }
                    sent += 1
                }
                let before = connections.count
                connections.removeAll { $0.closedByPeer(within: 0) }
                closedByWorker.add(before - connections.count, ordering: .relaxed)
                usleep(50_000)
            }
        }
    }

    @Test(
        "600 silent and 50 dribbling connections at one worker: pings through nginx stay 200 and fast, and no thread is lost"
    )
    func silentAndDribbling() throws {
        let stack = try TestStack(workers: 1, cost: 5)
        let client = stack.client(timeout: 5)
        #expect(client.status(of: "/api/ping") == 200)
        let worker = try #require(stack.workerProcessIDs.first)
        let threadsBefore = try #require(Self.threads(of: worker))
        let socket = stack.runtimeDirectory + "/worker-0.sock"

        let silent = Attacker()
        let dribbling = Attacker()
        let attackers = [
            Thread { silent.run(path: socket, count: 600, dribble: nil) },
            Thread { dribbling.run(path: socket, count: 50, dribble: 1) },
        ]
        for attacker in attackers { attacker.start() }
        // The connections are open before the pings begin.
        var waited = 0
        while silent.opened.load(ordering: .relaxed) < 600, waited < 400 {
            usleep(10_000)
            waited += 1
        }
        var statuses: [Int: Int] = [:]
        let pingsStart = stack.accessLog.count
        let deadline = MonotonicClock.now + 6
        while MonotonicClock.now < deadline {
            statuses[client.status(of: "/api/ping") ?? 0, default: 0] += 1
            usleep(20_000)
        }
        let directWhileAttacked = try? FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/ping")
        silent.stop.store(true, ordering: .relaxed)
        dribbling.stop.store(true, ordering: .relaxed)
        while attackers.contains(where: { !$0.isFinished }) { usleep(10_000) }

        #expect(silent.opened.load(ordering: .relaxed) >= 600)
        // The worker closed them itself, each within about a second of connecting: more than
        // the 650 first ones were opened and closed over the six seconds.
        #expect(silent.closedByWorker.load(ordering: .relaxed) >= 600, "silent connections closed by the worker")
        #expect(dribbling.closedByWorker.load(ordering: .relaxed) >= 50, "dribbling connections closed by the worker")
        #expect(statuses.keys.sorted() == [200], "ping statuses \(statuses)")
        #expect(
            directWhileAttacked?.contains("\"ok\"") == true,
            "a FastCGI ping straight to the socket: \(directWhileAttacked ?? "none")")
        sleep(2)
        let pings = stack.accessLog.dropFirst(pingsStart).filter { $0["uri"] as? String == "/api/ping" }
            .map { $0["request_time"] as? Double ?? .infinity }.sorted()
        let p99 = pings.isEmpty ? .infinity : pings[min(pings.count - 1, pings.count * 99 / 100)]
        #expect(pings.count >= 100, "pings logged: \(pings.count)")
        #expect(p99 <= 0.010, "ping p99 at nginx \(p99) s")
        #expect(Self.threads(of: worker) == threadsBefore, "the worker's threads (before: \(threadsBefore))")
        #expect(client.status(of: "/api/ping") == 200)
        #expect(try stack.stop() == .exited(0))
    }
}
