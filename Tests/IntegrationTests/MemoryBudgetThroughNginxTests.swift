import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

/// The memory budget through real nginx and real workers: a flood of argon2id hashes whose
/// memory fits one at a time, with two compute slots.
@Suite("memory budget through nginx", .serialized)
struct MemoryBudgetThroughNginxTests {
    /// 24 MiB per hash: below glibc's largest mmap threshold, where malloc would keep a freed
    /// hash's memory in its arena; the hasher maps it for the hash and unmaps it after, so the
    /// workers' resident memory shows what runs at once.
    static let hashMiB = 24

    /// The resident memory of `pids` together, in MiB (statm's second field, in pages).
    static func residentMiB(_ pids: [Int32]) -> Double {
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        return pids.reduce(0.0) { total, pid in
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return total }
            let fields = text.split(separator: " ")
            return total + (fields.count > 1 ? (Double(fields[1]) ?? 0) * page / 1_048_576 : 0)
        }
    }

    @Test(
        "a flood of argon2id hashes at a budget that fits one: never more than one runs (RSS and the segment say so), every 200 within N, refusals at once"
    )
    func floodWithinBudget() throws {
        let deadline = 0.5
        let stack = try TestStack(
            workers: 2, cost: 4,
            arguments: [
                "--algorithm", "argon2id", "--argon2-memory", "\(Self.hashMiB * 1024)", "--argon2-passes", "1",
                "--hash-memory", "\(Self.hashMiB * 3 / 2)", "--compute-slots", "2", "--deadline", "\(deadline)",
            ])
        defer { _ = try? stack.stop() }
        let workers = stack.workerProcessIDs
        try #require(workers.count == 2)
        let baseline = Self.residentMiB(workers)
        let stop = Atomic<Bool>(false)
        let peak = Mutex<(resident: Double, inUseKiB: Int, running: Int)>((0, 0, 0))
        let outcomes = Mutex<[(status: Int, seconds: Double, retryAfter: String?)]>([])
        let sampler = Thread {
            let client = stack.client(timeout: 5)
            while !stop.load(ordering: .relaxed) {
                let resident = Self.residentMiB(workers)
                let stats = try? client.request("GET", "/api/stats")
                let memory = stats?.json["memory"] as? [String: Any]
                peak.withLock {
                    $0.resident = max($0.resident, resident)
                    $0.inUseKiB = max($0.inUseKiB, memory?["in_use_kib"] as? Int ?? 0)
                    $0.running = max($0.running, stats?.json["running"] as? Int ?? 0)
                }
                usleep(2_000)
            }
        }
        sampler.start()
        let flooded = MonotonicClock.now
        concurrently(24) { index in
            let client = stack.client(timeout: 10)
            while MonotonicClock.now - flooded < 6 {
                let started = MonotonicClock.now
                guard let response = try? client.request("POST", "/api/hash", body: jsonBody(["password": "p\(index)"]))
                else {
                    outcomes.withLock { $0.append((0, MonotonicClock.now - started, nil)) }
                    continue
                }
                outcomes.withLock {
                    $0.append(
                        (
                            response.status, MonotonicClock.now - started,
                            response.headers["retry-after"] ?? response.headers["Retry-After"]
                        ))
                }
                if response.status == 503 { usleep(50_000) }
            }
        }
        stop.store(true, ordering: .relaxed)
        usleep(50_000)
        let all = outcomes.withLock { $0 }
        let ok = all.filter { $0.status == 200 }
        let refused = all.filter { $0.status == 503 }
        let (resident, inUseKiB, running) = peak.withLock { $0 }
        // The hashing happened, at its size, and never two at once.
        #expect(ok.count >= 10, "only \(ok.count) hashes answered")
        #expect(
            resident - baseline > 0.5 * Double(Self.hashMiB),
            "RSS rose \(resident - baseline) MiB: the hashes did not run")
        #expect(
            resident - baseline < 1.5 * Double(Self.hashMiB),
            "RSS rose \(resident - baseline) MiB: two hashes ran at once")
        #expect(inUseKiB <= Self.hashMiB * 1024 * 3 / 2 && inUseKiB >= Self.hashMiB * 1024, "in use \(inUseKiB) KiB")
        #expect(running == 1, "\(running) jobs ran at once")
        // The promise: every answer within N (with a little for the client's own threads), and
        // refusals at once with a Retry-After.
        #expect(all.allSatisfy { $0.status == 200 || $0.status == 503 }, "\(all.map(\.status))")
        #expect(ok.allSatisfy { $0.seconds <= deadline + 0.25 }, "slowest 200: \(ok.map(\.seconds).max() ?? 0) s")
        #expect(refused.allSatisfy { $0.retryAfter != nil }, "a 503 without Retry-After")
        #expect(!refused.isEmpty, "a flood of 24 at one hash at a time must be refused in part (\(ok.count) answered)")
    }
}
