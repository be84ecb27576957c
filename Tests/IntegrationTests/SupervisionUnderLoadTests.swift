import Foundation
import LoopbackHTTP
import POSIXSupport
import StackRunner
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `up` keeping the service whole while workers die or recycle under `ab` load.
@Suite("fullyloaded up: supervision under load", .serialized)
struct SupervisionUnderLoadTests {
    /// What API clients saw: answers by status, and any answer that was not JSON.
    final class Answers: Sendable {
        let statuses = Mutex<[Int: Int]>([:])
        let notJSON = Mutex<[String]>([])
        private let counted = Atomic<Int>(0)

        /// Answers recorded so far (without the lock).
        var total: Int { counted.load(ordering: .relaxed) }

        func record(_ response: HTTPResponse?) {
            guard let response else {
                statuses.withLock { $0[0, default: 0] += 1 }
                counted.add(1, ordering: .relaxed)
                return
            }
            statuses.withLock { $0[response.status, default: 0] += 1 }
            counted.add(1, ordering: .relaxed)
            let parses = (try? JSONSerialization.jsonObject(with: Data(response.body))) != nil
            if response.headers["content-type"] != "application/json" || !parses {
                notJSON.withLock { $0.append("\(response.status): \(response.text.prefix(120))") }
            }
        }
    }

    @Test("kill -9 a worker every 2 s for 20 s under ab: nothing waits past N, API errors stay JSON, ≥ 99% 200/503/429")
    func killEveryTwoSeconds() throws {
        let deadline = 1.0
        let stack = try TestStack(workers: 2, cost: 5, arguments: ["--deadline", "\(deadline)"])
        let abLog = stack.runtimeDirectory + "-ab.txt"
        defer { unlink(abLog) }
        let ab = try ChildProcess.spawn(
            executable: "/usr/bin/ab",
            arguments: [
                "-l", "-s", "10", "-c", "8", "-t", "22", "-n", "1000000", "http://127.0.0.1:\(stack.port)/api/load",
            ],
            standardOutput: abLog)
        let answers = Answers()
        let stop = StopFlag()
        let checkers = Thread {
            concurrently(2) { index in
                let client = stack.client(timeout: 10)
                while !stop.isRaised {
                    answers.record(
                        index == 0
                            ? try? client.request("POST", "/api/hash", body: Array(#"{"password":"p","cost":5}"#.utf8))
                            : try? client.request("GET", "/api/load"))
                }
            }
        }
        checkers.start()
        usleep(1_000_000)
        var killed: [Int32] = []
        for round in 0..<10 {
            let workers = stack.workerProcessIDs.sorted()
            if let victim = workers.isEmpty ? nil : workers[round % workers.count] {
                kill(victim, SIGKILL)
                killed.append(victim)
            }
            usleep(2_000_000)
        }
        stop.raise()
        let abStatus = try ab.wait(timeout: 30)
        usleep(300_000)
        let stats = try stack.client().request("GET", "/api/stats").json
        try stack.stop()

        #expect(abStatus == .exited(0), "\(String(describing: abStatus))")
        let report = (try? String(contentsOfFile: abLog, encoding: .utf8)) ?? ""
        #expect(ApacheBenchReport(parsing: report).map { $0.complete > 0 } == true, "\(report)")
        #expect(killed.count == 10)
        let crashes = stack.log.components(separatedBy: #""event":"crashed""#).count - 1
        #expect(crashes == killed.count, "\(stack.log)")
        let restarted = stack.log.components(separatedBy: #""event":"restarted""#).count - 1
        #expect(restarted == killed.count, "\(stack.log)")
        let restarts = (stats["workers"] as? [[String: Any]] ?? []).compactMap { $0["restarts"] as? Int }.reduce(0, +)
        #expect(restarts >= 1, "no restart recorded for the dashboard: \(stats)")

        // nginx's own view of every API request, ab's included.
        let requests = stack.accessLog.filter { ($0["uri"] as? String)?.hasPrefix("/api/") == true }
        #expect(requests.count > 500)
        let clean = requests.filter { [200, 503, 429].contains($0["status"] as? Int ?? 0) }
        let share = Double(clean.count) / Double(max(1, requests.count))
        #expect(share >= 0.99, "only \(clean.count) of \(requests.count) were 200/503/429")
        let slowest = requests.compactMap { $0["request_time"] as? Double }.max() ?? 0
        #expect(slowest <= deadline + 0.25, "a request took \(slowest) s with N = \(deadline) s")

        let seen = answers.statuses.withLock { $0 }
        #expect(seen[0] == nil, "requests without an answer: \(seen)")
        #expect((seen[200] ?? 0) > 100, "\(seen)")
        let bad = answers.notJSON.withLock { $0 }
        #expect(bad.isEmpty, "non-JSON answers: \(bad.prefix(5))")
    }

    @Test("--max-requests: workers recycle under load, not both at once, and no request fails")
    func recycling() throws {
        let stack = try TestStack(workers: 2, cost: 4, arguments: ["--max-requests", "150"])
        let first = Set(stack.workerProcessIDs)
        let answers = Answers()
        // At least 20,000 requests and two workers replaced, however fast or busy this machine is
        // (a minute at the most): the load goes on until recycling has happened under it.
        let end = MonotonicClock.now + 60
        let seenWorkers = Mutex<Set<Int>>([])
        let recycledEnough = StopFlag()
        let watcher = Thread {
            while MonotonicClock.now < end,
                stack.log.components(separatedBy: #""event":"recycled""#).count - 1 < 2
            {
                usleep(50_000)
            }
            recycledEnough.raise()
        }
        watcher.start()
        concurrently(6) { index in
            let client = stack.client(timeout: 10)
            while MonotonicClock.now < end, answers.total < 20_000 || !recycledEnough.isRaised {
                let response =
                    index % 3 == 0
                    ? try? client.request("POST", "/api/hash", body: Array(#"{"password":"p","cost":4}"#.utf8))
                    : try? client.request("GET", "/api/ping")
                answers.record(response)
                if let pid = response?.json["pid"] as? Int { seenWorkers.withLock { _ = $0.insert(pid) } }
            }
        }
        let log = stack.log
        try stack.stop()
        let seen = answers.statuses.withLock { $0 }
        let failed = stack.accessLog.filter { ($0["status"] as? Int) != 200 }
        #expect(
            seen.keys.sorted() == [200], "answers by status (0: none): \(seen); in nginx's log: \(failed.prefix(5))")
        #expect(seen.values.reduce(0, +) >= 20_000, "\(seen)")
        let recycled = log.components(separatedBy: #""event":"recycled""#).count - 1
        #expect(recycled >= 2, "\(log)")
        #expect(!log.contains(#""event":"crashed""#))
        #expect(seenWorkers.withLock { $0 }.count > first.count, "answers came only from the first workers")
    }
}
