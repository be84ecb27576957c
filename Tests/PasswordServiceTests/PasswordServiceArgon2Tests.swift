import Argon2
import Bcrypt
import Foundation
import PasswordService
import Synchronization
import Testing

/// argon2id on the service alone: new hashes, verify of both algorithms, migration either way by
/// rehash on verify, the limits on stored hashes, the pepper's key id, and the unknown user.
@Suite("PasswordService: argon2id")
struct PasswordServiceArgon2Tests {
    static let policy = Argon2Parameters(memoryKiB: 1024, passes: 2, lanes: 1)
    static let pepperLines = [
        "k1:" + Data(repeating: 1, count: 32).base64EncodedString(),
        "k2:" + Data(repeating: 2, count: 32).base64EncodedString(),
    ]

    static func service(_ algorithm: PasswordAlgorithm, pepper lines: [String]? = nil) throws -> PasswordService {
        PasswordService(
            configuration: PasswordServiceConfiguration(
                defaultCost: 4, allowedCosts: 4...5,
                pepper: try lines.map { try Pepper(parsing: $0.joined(separator: "\n")) }, algorithm: algorithm,
                argon2: policy,
                argon2Limits: Argon2Limits(maximumMemoryKiB: 8192, maximumPasses: 8, maximumLanes: 4)),
            processID: 1)
    }

    static func post(
        _ service: PasswordService, _ path: String, _ object: [String: Any?],
        runner: some ExpensiveJobRunner = InlineJobRunner()
    ) -> (status: Int, json: [String: Any]) {
        let body = try! JSONSerialization.data(withJSONObject: object.mapValues { $0 ?? NSNull() })
        let response = service.respond(
            to: APIRequest(method: "POST", path: path, body: Array(body), contentType: "application/json"),
            runner: runner)
        return (
            response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        )
    }

    @Test("argon2id policy: new hashes at its parameters, any length, verify and no rehash; a cost is a 400")
    func newHashes() throws {
        let service = try Self.service(.argon2id)
        let long = String(repeating: "a long passphrase ", count: 20)
        let hashed = Self.post(service, "/api/hash", ["password": long])
        let hash = try #require(hashed.json["hash"] as? String, "\(hashed)")
        #expect(hash.hasPrefix("$argon2id$v=19$m=1024,t=2,p=1$"), "\(hash)")
        let matched = Self.post(service, "/api/verify", ["password": long, "hash": hash])
        #expect(matched.json["match"] as? Bool == true && matched.json.keys.contains("rehash"), "\(matched)")
        #expect(matched.json["rehash"] is NSNull, "\(matched)")
        #expect(
            Self.post(service, "/api/verify", ["password": long + "!", "hash": hash]).json["match"] as? Bool == false)
        let withCost = Self.post(service, "/api/hash", ["password": "x", "cost": 4])
        #expect(withCost.status == 400 && withCost.json["error"] as? String == "invalid_field", "\(withCost)")
        let needs = Self.post(service, "/api/needs-rehash", ["hash": hash])
        #expect(needs.json["needs_rehash"] as? Bool == false, "\(needs)")
    }

    @Test(
        "migration either way: a match of the other algorithm, or of smaller parameters, comes back rehashed at the policy"
    )
    func migration() throws {
        let bcryptService = try Self.service(.bcrypt)
        let argon2Service = try Self.service(.argon2id)
        let argon2Hash = try #require(Self.post(argon2Service, "/api/hash", ["password": "pw"]).json["hash"] as? String)
        let bcryptHash = try #require(Self.post(bcryptService, "/api/hash", ["password": "pw"]).json["hash"] as? String)

        let toBcrypt = Self.post(bcryptService, "/api/verify", ["password": "pw", "hash": argon2Hash])
        #expect((toBcrypt.json["rehash"] as? String)?.hasPrefix("$2b$04$") == true, "\(toBcrypt)")
        let toArgon2 = Self.post(argon2Service, "/api/verify", ["password": "pw", "hash": bcryptHash])
        #expect(
            (toArgon2.json["rehash"] as? String)?.hasPrefix("$argon2id$v=19$m=1024,t=2,p=1$") == true, "\(toArgon2)")

        let weaker = try Argon2Hasher.hash(
            password: Array("pw".utf8), parameters: Argon2Parameters(memoryKiB: 512, passes: 1, lanes: 1))
        let needs = Self.post(argon2Service, "/api/needs-rehash", ["hash": weaker.string])
        #expect(
            (needs.json["reason"] as? String)?.contains("m=512,t=1,p=1 is below the policy's m=1024,t=2,p=1") == true,
            "\(needs)")
        let upgraded = Self.post(argon2Service, "/api/verify", ["password": "pw", "hash": weaker.string])
        #expect((upgraded.json["rehash"] as? String)?.contains("m=1024,t=2,p=1") == true, "\(upgraded)")
        // Above the policy is no reason.
        let stronger = try Argon2Hasher.hash(
            password: Array("pw".utf8), parameters: Argon2Parameters(memoryKiB: 2048, passes: 3, lanes: 1))
        #expect(
            Self.post(argon2Service, "/api/needs-rehash", ["hash": stronger.string]).json["needs_rehash"] as? Bool
                == false)
    }

    @Test("a stored hash over the limits or malformed is a 400, and nothing is hashed for it")
    func hostileHashes() throws {
        let service = try Self.service(.argon2id)
        let runner = RecordingRunner()
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
        let over = Self.post(service, "/api/verify", ["password": "pw", "hash": huge], runner: runner)
        #expect(over.status == 400 && over.json["error"] as? String == "parameters_out_of_range", "\(over)")
        let passes = huge.replacingOccurrences(of: "m=4194304,t=1", with: "m=1024,t=9")
        #expect(Self.post(service, "/api/verify", ["password": "pw", "hash": passes], runner: runner).status == 400)
        let bad = Self.post(
            service, "/api/verify", ["password": "pw", "hash": "$argon2id$v=19$m=1024"], runner: runner)
        #expect(bad.status == 400 && bad.json["error"] as? String == "malformed_hash", "\(bad)")
        let needs = Self.post(service, "/api/needs-rehash", ["hash": huge], runner: runner)
        #expect(needs.status == 400, "\(needs)")
        #expect(runner.jobs.withLock { $0 }.isEmpty, "a job ran for a refused hash")
    }

    @Test("with a pepper: the key id in keyid, an old key rehashes under the newest, a missing key is a clear error")
    func pepper() throws {
        let old = try Self.service(.argon2id, pepper: [Self.pepperLines[0]])
        let rotated = try Self.service(.argon2id, pepper: Self.pepperLines)
        let hash = try #require(Self.post(old, "/api/hash", ["password": "pw"]).json["hash"] as? String)
        let parsed = try Argon2Hash(
            parsing: hash, limits: Argon2Limits(maximumMemoryKiB: 8192, maximumPasses: 8, maximumLanes: 4))
        #expect(parsed.keyID == "k1")
        // The digest is of the HMAC, not of the password: the bare password does not match it.
        #expect(try !Argon2Hasher.verify(password: Array("pw".utf8), against: parsed))
        let verified = Self.post(rotated, "/api/verify", ["password": "pw", "hash": hash])
        let rehash = try #require(verified.json["rehash"] as? String, "\(verified)")
        #expect(
            try Argon2Hash(
                parsing: rehash, limits: Argon2Limits(maximumMemoryKiB: 8192, maximumPasses: 8, maximumLanes: 4)
            ).keyID == "k2")
        #expect(Self.post(rotated, "/api/verify", ["password": "pw", "hash": rehash]).json["rehash"] is NSNull)
        let missing = Self.post(
            try Self.service(.argon2id, pepper: [Self.pepperLines[1]]), "/api/verify", ["password": "pw", "hash": hash])
        #expect(missing.status == 400 && missing.json["error"] as? String == "unknown_pepper_key", "\(missing)")
        let none = Self.post(try Self.service(.argon2id), "/api/verify", ["password": "pw", "hash": hash])
        #expect(none.status == 400 && none.json["error"] as? String == "unknown_pepper_key", "\(none)")
    }

    @Test("an unknown user under the argon2id policy costs an argon2id verify at the policy and answers match false")
    func unknownUser() throws {
        let runner = RecordingRunner()
        let answer = Self.post(
            try Self.service(.argon2id), "/api/verify", ["password": "pw", "hash": nil], runner: runner)
        #expect(answer.status == 200 && answer.json["match"] as? Bool == false && answer.json.count == 1, "\(answer)")
        #expect(runner.jobs.withLock { $0 } == ["verify m=1024,t=2,p=1"])
    }
}

/// Runs jobs inline and records which ran.
final class RecordingRunner: ExpensiveJobRunner, Sendable {
    let jobs = Mutex<[String]>([])

    func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        jobs.withLock { $0.append("\(FollowUpRefusingRunner.name(job)) \(FollowUpRefusingRunner.size(job))") }
        return try InlineJobRunner().run(job, arrivedAt: arrivedAt, client: client)
    }
}
