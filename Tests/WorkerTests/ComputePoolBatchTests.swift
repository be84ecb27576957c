import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

/// Batches through the whole stack: under load each worker hashes its waiting jobs side by side,
/// and every answer is the one the job alone would get.
@Suite("Compute pool batches", .serialized)
struct ComputePoolBatchTests {
    /// Closed-loop clients: hash a password of their own, verify it, verify a wrong one.
    static func hashAndVerify(_ stack: TestStack, clients: Int, seconds: Double) -> (
        answered: Int, wrong: [String]
    ) {
        let answered = Atomic<Int>(0)
        let wrong = Mutex<[String]>([])
        let end = MonotonicClock.now + seconds
        concurrently(clients) { index in
            let client = stack.client(timeout: 10)
            var round = 0
            while MonotonicClock.now < end {
                round += 1
                let password = "client \(index) round \(round) \u{00e9}"
                guard let hashed = try? client.request("POST", "/api/hash", body: jsonBody(["password": password])),
                    hashed.status == 200, let hash = hashed.json["hash"] as? String
                else {
                    wrong.withLock { $0.append("hash of \(password) not answered 200") }
                    continue
                }
                for (candidate, expected) in [(password, true), (password + "!", false)] {
                    let verified = try? client.request(
                        "POST", "/api/verify", body: jsonBody(["password": candidate, "hash": hash]))
                    if verified?.status != 200 || verified?.json["match"] as? Bool != expected {
                        wrong.withLock {
                            $0.append("verify \(candidate) against \(hash): \(String(describing: verified?.status))")
                        }
                    }
                }
                answered.wrappingAdd(3, ordering: .relaxed)
            }
        }
        return (answered.load(ordering: .relaxed), wrong.withLock { $0 })
    }

    /// Loads a stack of two workers at `--lanes lanes` for `seconds`, checks every answer, and
    /// returns `/api/stats`' batches.
    static func batchesAfterLoad(lanes: Int, seconds: Double) throws -> [String: Any] {
        let stack = try TestStack(workers: 2, cost: 5, arguments: ["--deadline", "2", "--lanes", "\(lanes)"])
        defer { _ = try? stack.stop() }
        let (answered, wrong) = Self.hashAndVerify(stack, clients: 24, seconds: seconds)
        #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        #expect(answered > 30, "\(answered) answers")
        return try stack.client().request("GET", "/api/stats").json["batches"] as? [String: Any] ?? [:]
    }

    @Test("under load, full batches of four run, and every hash and verify answers as alone")
    func batchesUnderLoad() throws {
        let batches = try Self.batchesAfterLoad(lanes: 4, seconds: 3)
        #expect(batches["lanes"] as? Int == 4)
        #expect(batches["samples"] as? Int ?? 0 > 0, "no full batch ran: \(batches)")
        let factor = try #require(batches["factor"] as? Double)
        #expect(factor >= 1 && factor <= 4)
    }

    @Test("with --lanes 1 every job runs alone: no batch is learnt")
    func oneLane() throws {
        let batches = try Self.batchesAfterLoad(lanes: 1, seconds: 1.5)
        #expect(batches["lanes"] as? Int == 1 && batches["samples"] as? Int == 0 && batches["factor"] as? Double == 1)
    }
}
