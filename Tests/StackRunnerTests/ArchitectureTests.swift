import Foundation
import POSIXSupport
import StackRunner
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The four rounds, each started for real and made to show what defines it.
@Suite("architectures: sync, async, coarse, fine", .serialized)
struct ArchitectureTests {
    @Test("each round's shape: workers, threads, where bcrypt runs, connection caps")
    func shapes() {
        #expect(Architecture.sync.workers(requested: 4) == 1 && Architecture.sync.requestThreads(requested: 256) == 1)
        #expect(
            Architecture.async.workers(requested: 4) == 1 && Architecture.async.requestThreads(requested: 256) == 256)
        #expect(
            Architecture.coarse.workers(requested: 4) == 4 && Architecture.coarse.requestThreads(requested: 256) == 1)
        #expect(Architecture.fine.workers(requested: 4) == 4 && Architecture.fine.requestThreads(requested: 256) == 256)
        #expect(Architecture.allCases.map(\.execution) == [.inline, .background, .inline, .admission])
        #expect(Architecture.allCases.filter(\.capsWorkerConnections) == [.fine])
    }

    @Test(
        "every round starts, serves every route, and tells the dashboard which it is", arguments: Architecture.allCases)
    func servesEveryRoute(_ architecture: Architecture) throws {
        let stack = try TestStack(workers: 2, cost: 4, arguments: ["--architecture", architecture.rawValue])
        defer { _ = try? stack.stop() }
        let client = stack.client()
        #expect(try client.request("GET", "/api/ping").status == 200)
        #expect(try client.request("GET", "/api/stats").status == 200)
        #expect(try client.request("GET", "/api/load").text.contains("$2b$04$"))
        let hash = try client.request("POST", "/api/hash", body: Array(#"{"password":"p","cost":4}"#.utf8))
        let hashed = try #require(hash.json["hash"] as? String)
        let verify = try client.request(
            "POST", "/api/verify", body: Array(#"{"password":"p","hash":"\#(hashed)"}"#.utf8))
        #expect(verify.json["match"] as? Bool == true)
        #expect(try client.request("POST", "/api/hash", body: Array("{".utf8)).status == 400)
        #expect(stack.workerProcessIDs.count == architecture.workers(requested: 2))

        let socket = try WebSocketTestClient(port: stack.port, path: "/ws")
        let sample = try #require(
            try JSONSerialization.jsonObject(with: Data(socket.nextText().utf8)) as? [String: Any])
        #expect(sample["architecture"] as? String == architecture.rawValue)
        // Every round counts its hashes in the segment, so the dashboard's throughput is real.
        // (A worker makes /api/stats at most every 100 ms.)
        usleep(150_000)
        let stats = try client.request("GET", "/api/stats").json
        #expect((stats["counters"] as? [String: Any])?["completed"] as? Int ?? 0 >= 3, "\(stats)")
    }

    /// Pings sent one after another while `clients` hash without pause: their latencies, and the
    /// hashes' own service time (the `seconds` they report), both sorted.
    func pingsBesideHashes(_ stack: TestStack, clients: Int, cost: Int) -> (
        pings: [Double], hashes: [Double], statuses: [Int: Int]
    ) {
        let stop = StopFlag()
        let hashSeconds = Mutex<[Double]>([])
        let statuses = Mutex<[Int: Int]>([:])
        let pings = Mutex<[Double]>([])
        concurrently(clients + 1) { index in
            let client = stack.client(timeout: 30)
            if index == clients {
                usleep(300_000)
                for _ in 0..<30 {
                    let started = MonotonicClock.now
                    _ = try? client.request("GET", "/api/ping")
                    pings.withLock { $0.append(MonotonicClock.now - started) }
                    usleep(20_000)
                }
                stop.raise()
                return
            }
            while !stop.isRaised {
                let response = try? client.request(
                    "POST", "/api/hash", body: Array(#"{"password":"p","cost":\#(cost)}"#.utf8))
                statuses.withLock { $0[response?.status ?? 0, default: 0] += 1 }
                if let seconds = response?.json["seconds"] as? Double { hashSeconds.withLock { $0.append(seconds) } }
            }
        }
        return (pings.withLock { $0 }.sorted(), hashSeconds.withLock { $0 }.sorted(), statuses.withLock { $0 })
    }

    @Test("sync: a ping waits behind the hashes; fine: it does not")
    func pingWaitsOnlyInSync() throws {
        // A hash long beside a ping's own round trip on this machine, busy or not (20 ms at least):
        // then "overtakes" and "waits behind" are told apart by far more than the noise.
        let (cost, _) = try MachineCalibration.cost(takingAtLeast: 0.02, from: 6)
        let sync = try TestStack(workers: 2, cost: cost, arguments: ["--architecture", "sync"])
        let blocked = pingsBesideHashes(sync, clients: 4, cost: cost)
        try sync.stop()
        let fine = try TestStack(workers: 2, cost: cost, arguments: ["--architecture", "fine", "--deadline", "5"])
        let free = pingsBesideHashes(fine, clients: 4, cost: cost)
        try fine.stop()
        let hash = blocked.hashes[blocked.hashes.count / 2]
        let syncPing = blocked.pings[blocked.pings.count / 2]
        let finePing = free.pings[free.pings.count * 9 / 10]
        // In sync a ping queues behind the hashes ahead of it in the one socket: at least one.
        #expect(syncPing >= hash, "sync ping median \(syncPing * 1000) ms, hash \(hash * 1000) ms")
        // In fine it overtakes them: request threads outrank compute threads.
        #expect(finePing < hash, "fine ping p90 \(finePing * 1000) ms, hash \(hash * 1000) ms")
    }

    @Test("coarse: every single-threaded worker is busy under load")
    func coarseKeepsEveryWorkerBusy() throws {
        let stack = try TestStack(workers: 2, cost: 6, arguments: ["--architecture", "coarse"])
        defer { _ = try? stack.stop() }
        let workers = stack.workerProcessIDs
        #expect(workers.count == 2)
        let before = workers.map { ProcessTable.cpuTicks(of: $0) }
        let started = MonotonicClock.now
        _ = pingsBesideHashes(stack, clients: 6, cost: 6)
        let elapsed = MonotonicClock.now - started
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        for (index, pid) in workers.enumerated() {
            let busy = Double(ProcessTable.cpuTicks(of: pid) - before[index]) / ticksPerSecond / elapsed
            #expect(busy > 0.5, "worker \(pid) busy \(busy * 100)% of the run")
        }
    }

    @Test("overload: fine refuses what would miss N; async takes it all and lets the queue grow")
    func onlyFineRefuses() throws {
        let cost = 8
        // 16 clients on async's 2 compute threads keep about 14 hashes waiting: a wait of about
        // 7 hashes. N of 4 of this machine's hashes puts that well past N, and lets fine admit a
        // queue of a few and refuse the rest (a cost-8 hash is long enough that nginx's
        // millisecond clock and the wake-ups are small beside N).
        let deadline = 4 * (try MachineCalibration.singleHashSeconds(cost: cost))
        let fine = try TestStack(
            workers: 2, cost: cost, arguments: ["--architecture", "fine", "--deadline", "\(deadline)"])
        let refused = pingsBesideHashes(fine, clients: 16, cost: cost).statuses
        try fine.stop()
        let async = try TestStack(
            workers: 2, cost: cost, arguments: ["--architecture", "async", "--deadline", "\(deadline)"])
        let queued = pingsBesideHashes(async, clients: 16, cost: cost).statuses
        let stats = try async.client().request("GET", "/api/stats").json
        try async.stop()
        #expect((refused[503] ?? 0) > 0, "\(refused)")
        #expect((refused[200] ?? 0) > 0, "\(refused)")
        #expect(queued.keys.sorted() == [200], "\(queued)")
        // Its waits went past N: nothing bounds them.
        let wait = try #require((stats["queue_wait"] as? [String: Any])?["max_seconds"] as? Double)
        #expect(wait > deadline, "async's longest wait \(wait) s, N \(deadline) s")
    }
}
