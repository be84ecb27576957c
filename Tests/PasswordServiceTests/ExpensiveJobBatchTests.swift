import Bcrypt
import Foundation
import Testing

@testable import PasswordService

/// A batch answers each job exactly as the job alone would: the same match, a hash libxcrypt
/// verifies, the same error for what bcrypt refuses.
@Suite("ExpensiveJob batches")
struct ExpensiveJobBatchTests {
    let hasher = BcryptHasher()

    @Test("hashes and verifies of one cost, mixed in one batch, give what each gives alone")
    func mixedBatch() throws {
        let stored = try hasher.hash(password: "correct horse", cost: 5)
        let legacy = try #require(BcryptHash(parsing: stored.string.replacingOccurrences(of: "$2b$", with: "$2y$")))
        let jobs: [ExpensiveJob] = [
            .hash(password: "first", cost: 5),
            .verify(password: "correct horse", hash: stored),
            .verify(password: "wrong horse", hash: stored),
            .verify(password: "correct horse", hash: legacy),
        ]
        let results = ExpensiveJob.performBatch(jobs, with: hasher)
        #expect(results.count == 4)
        guard case .success(.hashed(let made)) = results[0] else {
            Issue.record("no hash: \(results[0])")
            return
        }
        #expect(made.cost == 5 && made.string.hasPrefix("$2b$05$"))
        #expect(try hasher.verify(password: "first", against: made))
        #expect(try results[1].get() == .verified(true))
        #expect(try results[2].get() == .verified(false))
        #expect(try results[3].get() == .verified(true))
    }

    @Test("a job the core must not take is answered alone: bcrypt's errors, $2a$ with 8-bit bytes, another cost")
    func exclusions() throws {
        let eightBit = "pässwörd"
        // libxcrypt's $2a$ treats 8-bit bytes with its countermeasure: only it may verify these.
        let setting = try hasher.hash(password: eightBit, cost: 4)
        let legacy = try #require(BcryptHash(parsing: setting.string.replacingOccurrences(of: "$2b$", with: "$2a$")))
        let expected = try hasher.verify(password: eightBit, against: legacy)
        let jobs: [ExpensiveJob] = [
            .hash(password: "plain", cost: 4),
            .hash(password: String(repeating: "x", count: 73), cost: 4),
            .hash(password: "nul\u{0}inside", cost: 4),
            .verify(password: eightBit, hash: legacy),
            .hash(password: "other cost", cost: 5),
        ]
        let results = ExpensiveJob.performBatch(jobs, with: hasher)
        #expect(try hasher.verify(password: "plain", against: try #require(Self.hash(results[0]))))
        #expect(Self.error(results[1]) == .passwordTooLong(byteCount: 73))
        #expect(Self.error(results[2]) == .passwordContainsNUL)
        #expect(try results[3].get() == .verified(expected))
        let other = try #require(Self.hash(results[4]))
        #expect(other.cost == 5)
        #expect(try hasher.verify(password: "other cost", against: other))
    }

    @Test("a batch of one is the job alone")
    func batchOfOne() throws {
        let results = ExpensiveJob.performBatch([.hash(password: "alone", cost: 4)], with: hasher)
        #expect(try hasher.verify(password: "alone", against: try #require(Self.hash(results[0]))))
    }

    static func hash(_ result: Result<ExpensiveJobResult, BcryptError>) -> BcryptHash? {
        if case .success(.hashed(let hash)) = result { return hash }
        return nil
    }

    static func error(_ result: Result<ExpensiveJobResult, BcryptError>) -> BcryptError? {
        if case .failure(let error) = result { return error }
        return nil
    }
}
