import Bcrypt
import Foundation
import PasswordService
import Synchronization
import Testing

/// Rehash on verify, `/api/needs-rehash`, and the verify for an unknown user, on the service alone.
@Suite("PasswordService: rehash and unknown users")
struct PasswordServiceRehashTests {
    /// The policy is cost 5; new hashes may be 5…6, stored ones verify down to 4.
    let service = PasswordService(
        configuration: PasswordServiceConfiguration(defaultCost: 5, allowedCosts: 5...6), processID: 1)

    func respond(_ path: String, _ body: String, runner: some ExpensiveJobRunner = InlineJobRunner()) -> (
        status: Int, json: [String: Any], text: String
    ) {
        let response = service.respond(
            to: APIRequest(method: "POST", path: path, body: Array(body.utf8), contentType: "application/json"),
            runner: runner)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response.status, json, String(decoding: response.body, as: UTF8.self))
    }

    static func stored(_ password: String, cost: Int, variant: String = "2b") throws -> String {
        let hash = try BcryptHasher().hash(password: password, cost: cost).string
        return "$\(variant)$" + hash.dropFirst(4)
    }

    static func body(_ password: String, _ hash: String?) -> String {
        #"{"password":"\#(password)","hash":\#(hash.map { "\"\($0)\"" } ?? "null")}"#
    }

    @Test("a match at the policy answers rehash null; a mismatch answers match false and nothing more")
    func atPolicy() throws {
        let hash = try Self.stored("correct horse", cost: 5)
        let matched = respond("/api/verify", Self.body("correct horse", hash))
        #expect(matched.status == 200 && matched.text == #"{"match":true,"rehash":null}"#, "\(matched.text)")
        let higher = respond("/api/verify", Self.body("correct horse", try Self.stored("correct horse", cost: 6)))
        #expect(higher.text == #"{"match":true,"rehash":null}"#, "a cost above the policy is no reason")
        let wrong = respond("/api/verify", Self.body("wrong", hash))
        #expect(wrong.status == 200 && wrong.text == #"{"match":false}"#, "\(wrong.text)")
    }

    @Test(
        "a match below the policy — a lower cost, down to 4 below --min-cost, or $2a$ / $2y$ — answers a $2b$ hash at the policy"
    )
    func belowPolicy() throws {
        for (cost, variant) in [(4, "2b"), (5, "2a"), (5, "2y"), (4, "2y")] {
            let stored = try Self.stored("correct horse", cost: cost, variant: variant)
            let answer = respond("/api/verify", Self.body("correct horse", stored))
            #expect(answer.status == 200 && answer.json["match"] as? Bool == true, "\(answer.text)")
            let rehash = try #require(answer.json["rehash"] as? String, "\(stored): \(answer.text)")
            let parsed = try #require(BcryptHash(parsing: rehash))
            #expect(parsed.cost == 5 && parsed.variant == .b && rehash != stored)
            #expect(try BcryptHasher().verify(password: "correct horse", against: parsed))
            // And the rehash meets the policy: verifying with it asks for nothing more.
            #expect(respond("/api/verify", Self.body("correct horse", rehash)).text == #"{"match":true,"rehash":null}"#)
        }
        // A mismatch below the policy is rehashed to nothing: only a matching password can be.
        let low = try Self.stored("correct horse", cost: 4)
        #expect(respond("/api/verify", Self.body("wrong", low)).text == #"{"match":false}"#)
        // The ceiling still holds for stored hashes.
        let tooDear = "$2b$07$" + (try Self.stored("x", cost: 4)).dropFirst(7)
        #expect(respond("/api/verify", Self.body("x", tooDear)).json["error"] as? String == "cost_out_of_range")
    }

    @Test("the rehash is a follow-up job admission may refuse: the match stands, with rehash null and the reason")
    func rehashRefused() throws {
        let stored = try Self.stored("correct horse", cost: 4)
        let runner = FollowUpRefusingRunner()
        let answer = respond("/api/verify", Self.body("correct horse", stored), runner: runner)
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.text == #"{"match":true,"rehash":null,"rehash_deferred":"at_capacity"}"#, "\(answer.text)")
        #expect(runner.jobs.withLock { $0 } == ["verify 4", "follow-up hash 5"])
        // The verify refused: a 503, and no rehash tried.
        let refused = respond("/api/verify", Self.body("correct horse", stored), runner: RefusingRunner())
        #expect(refused.status == 503 && refused.json["error"] as? String == "overloaded")
    }

    @Test("hash null — an unknown user — runs a verify at the policy's cost and answers match false")
    func unknownUser() {
        let runner = FollowUpRefusingRunner()
        let answer = respond("/api/verify", Self.body("anything", nil), runner: runner)
        #expect(answer.status == 200 && answer.text == #"{"match":false}"#, "\(answer.text)")
        #expect(runner.jobs.withLock { $0 } == ["verify 5"], "the same work as a failed verify")
        // Refused like any verify when the host is full: the unknown user is not told apart.
        #expect(respond("/api/verify", Self.body("anything", nil), runner: RefusingRunner()).status == 503)
        // Left out is still an error, not an unknown user.
        #expect(respond("/api/verify", #"{"password":"x"}"#).json["error"] as? String == "missing_field")
        #expect(respond("/api/verify", #"{"password":"x","hash":5}"#).json["error"] as? String == "invalid_field")
    }

    @Test("/api/needs-rehash says whether a stored hash meets the policy, and why not, without hashing")
    func needsRehash() throws {
        let runner = FollowUpRefusingRunner()
        let atPolicy = respond("/api/needs-rehash", #"{"hash":"\#(try Self.stored("x", cost: 5))"}"#, runner: runner)
        #expect(atPolicy.status == 200 && atPolicy.text == #"{"needs_rehash":false,"reason":null}"#, "\(atPolicy.text)")
        let low = respond("/api/needs-rehash", #"{"hash":"\#(try Self.stored("x", cost: 4))"}"#, runner: runner)
        #expect(low.json["needs_rehash"] as? Bool == true)
        #expect((low.json["reason"] as? String)?.contains("cost 4 is below the policy's 5") == true, "\(low.text)")
        let old = respond("/api/needs-rehash", #"{"hash":"\#(try Self.stored("x", cost: 6, variant: "2a"))"}"#)
        #expect((old.json["reason"] as? String)?.contains("$2a$") == true, "\(old.text)")
        #expect(runner.jobs.withLock { $0 }.isEmpty, "needs-rehash hashed something")
        #expect(!APIRoute.needsRehash.isExpensive)
        #expect(respond("/api/needs-rehash", #"{"hash":"nope"}"#).json["error"] as? String == "malformed_hash")
        #expect(respond("/api/needs-rehash", #"{}"#).json["error"] as? String == "missing_field")
    }
}

/// Runs jobs inline and records them; refuses every follow-up job, as a full host does.
final class FollowUpRefusingRunner: ExpensiveJobRunner, Sendable {
    let jobs = Mutex<[String]>([])

    func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        jobs.withLock { $0.append("\(Self.name(job)) \(Self.size(job))") }
        return try InlineJobRunner().run(job, arrivedAt: arrivedAt, client: client)
    }

    func runFollowUp(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        jobs.withLock { $0.append("follow-up \(Self.name(job)) \(Self.size(job))") }
        throw .overloaded(predictedSeconds: 3, retryAfterSeconds: 1, reason: .atCapacity)
    }

    static func name(_ job: ExpensiveJob) -> String {
        switch job {
        case .hash, .hashArgon2: "hash"
        case .verify, .verifyArgon2: "verify"
        }
    }

    /// bcrypt's cost, or argon2id's parameters.
    static func size(_ job: ExpensiveJob) -> String {
        job.bcryptCost.map(String.init) ?? job.argon2Parameters.map(\.description) ?? "?"
    }
}
