import Argon2
import Bcrypt
import Foundation
import JSONWriting
import POSIXSupport

/// The password API: turns a request into a response, running bcrypt through a job runner.
///
/// Pure apart from the runner: the FastCGI worker, the tests and the benchmarks all call this.
public struct PasswordService: Sendable {
    /// Limits and defaults.
    public let configuration: PasswordServiceConfiguration
    private let pingBody: [UInt8]
    private let pingCGIBytes: [UInt8]
    /// What a verify for an unknown user (`"hash": null`) hashes against: a hash at the policy
    /// (its algorithm, cost or parameters) that no password matches in practice. Its answer is
    /// `match: false` whatever it computes; the work is there so that the answer takes as long as
    /// a real failed verify.
    private let unknownUserHash: StoredHash.Kind

    /// Creates the service; `processID` is reported by `/api/ping` so that clients can see which
    /// worker answered.
    public init(configuration: PasswordServiceConfiguration, processID: Int32) {
        self.configuration = configuration
        self.pingBody = JSONText.object([("ok", .bool(true)), ("pid", .int(Int(processID)))])
        self.pingCGIBytes = APIResponse(status: 200, body: pingBody).cgiBytes
        switch configuration.algorithm {
        case .bcrypt:
            let cost = configuration.defaultCost
            let costDigits = cost < 10 ? "0\(cost)" : "\(cost)"
            // 22 salt characters, then 31 of checksum: the salt's and the checksum's last characters
            // are "." (no stray low bits), as bcrypt writes them.
            self.unknownUserHash = .bcrypt(
                BcryptHash(
                    parsing: "$2b$\(costDigits)$" + "unknownUserSaltFullyL." + "nothingMatchesThisChecksumXYZa.")!)
        case .argon2id:
            self.unknownUserHash = .argon2id(
                Argon2Hash(
                    parameters: configuration.argon2, salt: Array("unknown-user-salt".utf8),
                    digest: Array("nothing matches this digest.....".utf8)))
        }
    }

    /// A hash as an application stores it: bcrypt (bare, or in the pepper's envelope) or argon2id
    /// (its pepper key in the PHC `keyid`), with the pepper key it names.
    struct StoredHash {
        enum Kind {
            case bcrypt(BcryptHash)
            case argon2id(Argon2Hash)
        }
        var kind: Kind
        /// The pepper key the password was keyed with, or `nil`.
        var key: Pepper.Key?
    }

    /// Why `stored` falls below the policy new hashes get (another algorithm, a lower cost or
    /// smaller parameters, an older variant, no pepper or an older pepper key), or `nil` when it
    /// meets it.
    func rehashReason(for stored: StoredHash) -> String? {
        switch (stored.kind, configuration.algorithm) {
        case (.bcrypt, .argon2id): return "bcrypt; the policy is argon2id"
        case (.argon2id, .bcrypt): return "argon2id; the policy is bcrypt"
        case (.bcrypt(let hash), .bcrypt):
            if hash.cost < configuration.defaultCost {
                return "cost \(hash.cost) is below the policy's \(configuration.defaultCost)"
            }
            if hash.variant != .b { return "$\(hash.variant.rawValue)$ is an older variant than $2b$" }
        case (.argon2id(let hash), .argon2id):
            let policy = configuration.argon2
            let parameters = hash.parameters
            if parameters.memoryKiB < policy.memoryKiB || parameters.passes < policy.passes
                || parameters.lanes != policy.lanes
            {
                return "argon2id \(parameters) is below the policy's \(policy)"
            }
        }
        switch (stored.key, configuration.pepper) {
        case (nil, .some): return "made without the pepper"
        case (.some(let key), .some(let pepper)) where key.id != pepper.newest.id:
            return "made with pepper key \(key.id); the newest is \(pepper.newest.id)"
        default: return nil
        }
    }

    /// What the hash function sees for `password`: the password itself, or its HMAC under the pepper key.
    private func hashInput(_ password: String, key: Pepper.Key?) throws(APIError) -> String {
        guard let key else { return password }
        do throws(BcryptError) {
            return try Pepper.peppered(password, with: key)
        } catch {
            throw APIError(error)
        }
    }

    /// The job that hashes `input` (the password, or its HMAC under `key`) at the policy.
    private func newHashJob(_ input: String, key: Pepper.Key?, cost: Int? = nil) -> ExpensiveJob {
        switch configuration.algorithm {
        case .bcrypt: .hash(password: input, cost: cost ?? configuration.defaultCost)
        case .argon2id: .hashArgon2(password: input, parameters: configuration.argon2, keyID: key?.id)
        }
    }

    /// The job that checks `input` against `kind`.
    private func verifyJob(_ input: String, against kind: StoredHash.Kind) -> ExpensiveJob {
        switch kind {
        case .bcrypt(let hash): .verify(password: input, hash: hash)
        case .argon2id(let hash): .verifyArgon2(password: input, hash: hash)
        }
    }

    /// A new hash as the application gets it: bcrypt in the pepper's envelope when there is one
    /// (argon2id records the key itself), or `nil` for a job that made none.
    private func stored(_ result: ExpensiveJobResult) -> String? {
        switch result {
        case .hashed(let hash):
            configuration.pepper.map { PepperedHash(keyID: $0.newest.id, hash: hash).string } ?? hash.string
        case .hashedArgon2(let hash): hash.string
        case .verified: nil
        }
    }

    /// Whether a request is the cheap ping, answered from ``pingCGIBytes`` without reading a body.
    public static func isPing(method: String, path: String, contentLength: String?) -> Bool {
        path == APIRoute.ping.rawValue && (method == "GET" || method == "HEAD")
            && (contentLength == nil || contentLength == "" || contentLength == "0")
    }

    /// The whole CGI response to a ping, made once: the cheap route allocates nothing per request.
    public var pingResponseBytes: [UInt8] { pingCGIBytes }

    /// The response to a cheap route, computed without touching any queue.
    var pingResponse: APIResponse { APIResponse(status: 200, body: pingBody) }

    /// Answers `request`.
    ///
    /// - Parameters:
    ///   - stats: the body of `/api/stats`, supplied by whoever owns the shared state.
    public func respond(
        to request: APIRequest,
        runner: some ExpensiveJobRunner,
        stats: () -> [UInt8] = { Array("{}".utf8) }
    ) -> APIResponse {
        switch APIRoute.match(method: request.method, path: request.path) {
        case .failure(let error):
            return error.response
        case .success(let route):
            do throws(APIError) {
                return try respond(route: route, request: request, runner: runner, stats: stats)
            } catch {
                return error.response
            }
        }
    }

    private func respond(
        route: APIRoute, request: APIRequest, runner: some ExpensiveJobRunner, stats: () -> [UInt8]
    ) throws(APIError) -> APIResponse {
        if request.bodyLength > configuration.maximumBodyBytes {
            throw APIError(
                status: 413, code: "body_too_large",
                message: "request body is \(request.bodyLength) bytes; the limit is \(configuration.maximumBodyBytes)")
        }
        switch route {
        case .ping:
            return pingResponse
        case .stats:
            return APIResponse(status: 200, body: stats())
        case .load:
            let password: String
            do throws(BcryptError) {
                password = try SecureRandom.hexString(bytes: 16)
            } catch {
                throw APIError(error)
            }
            return try run(newHashJob(password, key: nil), request, runner: runner).response
        case .hash:
            let body = try decode(HashRequestBody.self, from: request)
            if let cost = body.cost {
                guard configuration.algorithm == .bcrypt else {
                    throw .badRequest(
                        "invalid_field",
                        "field \"cost\" applies to bcrypt; this service hashes with argon2id (\(configuration.argon2))")
                }
                try check(cost: cost)
            }
            let newest = configuration.pepper?.newest
            try check(password: body.password, wholeLength: newest != nil || configuration.algorithm == .argon2id)
            let input = try hashInput(body.password, key: newest)
            var outcome = try run(newHashJob(input, key: newest, cost: body.cost), request, runner: runner)
            outcome.stored = stored(outcome.result)
            return outcome.response
        case .verify:
            let body = try decode(VerifyRequestBody.self, from: request)
            guard let text = body.hash else {
                // An unknown user: the same work as a failed verify, the same answer.
                let newest = configuration.pepper?.newest
                try check(password: body.password, wholeLength: newest != nil || configuration.algorithm == .argon2id)
                let input = try hashInput(body.password, key: newest)
                _ = try run(verifyJob(input, against: unknownUserHash), request, runner: runner)
                return APIResponse(status: 200, body: JSONText.object([("match", .bool(false))]))
            }
            let hash = try parse(hash: text)
            let wholeLength: Bool =
                switch hash.kind {
                case .bcrypt: hash.key != nil
                case .argon2id: true
                }
            try check(password: body.password, wholeLength: wholeLength)
            let input = try hashInput(body.password, key: hash.key)
            let verified = try run(verifyJob(input, against: hash.kind), request, runner: runner)
            guard case .verified(true) = verified.result else { return verified.response }
            guard rehashReason(for: hash) != nil else {
                return APIResponse(status: 200, body: JSONText.object([("match", .bool(true)), ("rehash", .null)]))
            }
            return rehash(password: body.password, request, runner: runner)
        case .needsRehash:
            let body = try decode(NeedsRehashRequestBody.self, from: request)
            let reason = rehashReason(for: try parse(hash: body.hash))
            return APIResponse(
                status: 200,
                body: JSONText.object([
                    ("needs_rehash", .bool(reason != nil)), ("reason", reason.map(JSONText.Value.string) ?? .null),
                ]))
        }
    }

    /// A stored hash given to verify or needs-rehash, within the costs or the argon2id limits
    /// verify takes, its pepper key (if any) one this worker holds.
    private func parse(hash text: String) throws(APIError) -> StoredHash {
        if text.hasPrefix(Argon2Hash.prefix) {
            let hash: Argon2Hash
            do throws(Argon2Hash.ParseError) {
                hash = try Argon2Hash(parsing: text, limits: configuration.argon2Limits)
            } catch {
                switch error {
                case .malformed: throw .badRequest("malformed_hash", "hash is \(error)")
                case .overLimits: throw .badRequest("parameters_out_of_range", "hash is \(error)")
                }
            }
            return StoredHash(kind: .argon2id(hash), key: try pepperKey(hash.keyID))
        }
        let stored: StoredHash
        if let envelope = PepperedHash(parsing: text) {
            stored = StoredHash(kind: .bcrypt(envelope.hash), key: try pepperKey(envelope.keyID))
        } else if let hash = BcryptHash(parsing: text) {
            stored = StoredHash(kind: .bcrypt(hash), key: nil)
        } else {
            throw APIError(BcryptError.malformedHash)
        }
        // A hash's cost sets the work: a crafted `$2b$31$` hash would hold a core for days.
        if case .bcrypt(let hash) = stored.kind, !configuration.verifiableCosts.contains(hash.cost) {
            throw APIError(BcryptError.costOutOfRange(cost: hash.cost, allowed: configuration.verifiableCosts))
        }
        return stored
    }

    /// The pepper key a stored hash names, which this worker must hold; `nil` for none named.
    private func pepperKey(_ id: String?) throws(APIError) -> Pepper.Key? {
        guard let id else { return nil }
        guard let key = configuration.pepper?.key(id: id) else {
            throw APIError(
                status: 400, code: "unknown_pepper_key",
                message: "hash was made with pepper key \(id), which this service's --pepper-file does not hold")
        }
        return key
    }

    /// The answer to a match below the policy: the password hashed again at the policy, as a
    /// second job that admission prices on its own and may refuse; the match stands either way.
    private func rehash(password: String, _ request: APIRequest, runner: some ExpensiveJobRunner) -> APIResponse {
        let started = MonotonicClock.now
        let deferred: String
        // The password passed the checks of its stored hash; under the pepper any length is fine,
        // and without one the stored hash was bare bcrypt, which limited it already.
        let newest = configuration.pepper?.newest
        let input: String
        do throws(APIError) {
            // A password longer than bcrypt takes, matched by argon2id, cannot be rehashed as bare bcrypt.
            try check(password: password, wholeLength: newest != nil || configuration.algorithm == .argon2id)
            input = try hashInput(password, key: newest)
        } catch {
            return Self.matched(rehashDeferred: error.code)
        }
        do throws(ExpensiveJobFailure) {
            let result = try runner.runFollowUp(
                newHashJob(input, key: newest), arrivedAt: min(request.arrivedAt ?? started, started),
                client: request.client)
            if let hash = stored(result) {
                return APIResponse(
                    status: 200, body: JSONText.object([("match", .bool(true)), ("rehash", .string(hash))]))
            }
            deferred = "internal_error"
        } catch {
            switch error {
            case .overloaded(_, _, let reason): deferred = reason.rawValue
            case .bcrypt: deferred = "internal_error"
            }
        }
        return Self.matched(rehashDeferred: deferred)
    }

    /// A match whose rehash did not happen, and why.
    private static func matched(rehashDeferred reason: String) -> APIResponse {
        APIResponse(
            status: 200,
            body: JSONText.object([("match", .bool(true)), ("rehash", .null), ("rehash_deferred", .string(reason))]))
    }

    /// What a job gave, with how long its request took here; a refusal is thrown as its 503.
    struct Outcome {
        var result: ExpensiveJobResult
        var seconds: Double
        /// The hash as the application stores it, when it is not the bare hash.
        var stored: String?

        var response: APIResponse {
            switch result {
            case .hashed(let hash):
                APIResponse(
                    status: 200,
                    body: JSONText.object([("hash", .string(stored ?? hash.string)), ("seconds", .double(seconds))]))
            case .hashedArgon2(let hash):
                APIResponse(
                    status: 200,
                    body: JSONText.object([("hash", .string(stored ?? hash.string)), ("seconds", .double(seconds))]))
            case .verified(let match):
                APIResponse(status: 200, body: JSONText.object([("match", .bool(match))]))
            }
        }
    }

    private func run(_ job: ExpensiveJob, _ request: APIRequest, runner: some ExpensiveJobRunner) throws(APIError)
        -> Outcome
    {
        let started = MonotonicClock.now
        do throws(ExpensiveJobFailure) {
            let result = try runner.run(
                job, arrivedAt: min(request.arrivedAt ?? started, started), client: request.client)
            return Outcome(result: result, seconds: MonotonicClock.now - started)
        } catch {
            switch error {
            case .bcrypt(let bcryptError):
                throw APIError(bcryptError)
            case .overloaded(let predicted, let retryAfter, let reason):
                throw APIError(
                    overloadedResponse: Self.overloaded(
                        predictedSeconds: predicted, retryAfter: retryAfter, reason: reason))
            }
        }
    }

    /// The 503 of a refused job: why, when it would have been answered, and when to come back.
    private static func overloaded(predictedSeconds predicted: Double, retryAfter: Int, reason: OverloadReason)
        -> APIResponse
    {
        let message =
            switch reason {
            case .atCapacity, .deadline, .overran: "the service is at capacity; try again in \(retryAfter) s"
            case .overShare:
                "the service is at capacity and this client has its fair share already; try again in \(retryAfter) s"
            case .displaced:
                "the service is at capacity; a client with less than its fair share took this request's place; try again in \(retryAfter) s"
            }
        let body = JSONText.object([
            ("error", .string("overloaded")),
            ("message", .string(message)),
            ("reason", .string(reason.rawValue)),
            ("predicted_seconds", .double((predicted * 1000).rounded() / 1000)),
            ("retry_after", .int(retryAfter)),
        ])
        // The reason as a header too, for nginx's access log ($upstream_http_fullyloaded_refusal).
        return APIResponse(
            status: 503,
            headers: [.init("Retry-After", String(retryAfter)), .init("Fullyloaded-Refusal", reason.rawValue)],
            body: body)
    }

    /// A password the hash will see whole: 1 to 72 bytes without NUL for bcrypt; any length up to
    /// the body's limit (`wholeLength`: peppered, where bcrypt sees a 44-character HMAC, or argon2id,
    /// which reads any length), still without NUL.
    private func check(password: String, wholeLength: Bool = false) throws(APIError) {
        guard !password.isEmpty else { throw .badRequest("empty_password", "password must not be empty") }
        if wholeLength {
            guard !password.utf8.contains(0) else { throw APIError(BcryptError.passwordContainsNUL) }
            return
        }
        do throws(BcryptError) {
            try BcryptHasher.validate(password: password)
        } catch {
            throw APIError(error)
        }
    }

    private func check(cost: Int) throws(APIError) {
        guard configuration.allowedCosts.contains(cost) else {
            throw APIError(BcryptError.costOutOfRange(cost: cost, allowed: configuration.allowedCosts))
        }
    }

    private func decode<Body: Decodable>(_ type: Body.Type, from request: APIRequest) throws(APIError) -> Body {
        // A JSON body must say so: a form or text/plain POST (what any web page can make a
        // visitor's browser send, without asking) is no API call.
        guard request.declaresJSON else {
            throw APIError(
                status: 415, code: "unsupported_media_type", message: "the body must be sent as application/json")
        }
        if let key = JSONObjectKeys.firstDuplicate(in: request.body) {
            throw .badRequest("duplicate_field", "field \"\(key)\" is given more than once")
        }
        // The decoder's copy of the body holds the password too: wiped once decoded.
        var data = Data(request.body)
        defer { data.withUnsafeMutableBytes { SecretMemory.wipe($0) } }
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw .badRequest("missing_field", "field \"\(key.stringValue)\" is required")
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" has the wrong type")
        } catch DecodingError.valueNotFound(_, let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" must not be null")
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" \(context.debugDescription)")
        } catch DecodingError.typeMismatch(_, _) {
            throw .badRequest("invalid_json", "request body must be a JSON object")
        } catch {
            throw .badRequest("invalid_json", "request body is not valid JSON")
        }
    }

    private static func name(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}

struct HashRequestBody: Decodable {
    var password: String
    var cost: Int?

    enum CodingKeys: String, CodingKey {
        case password, cost
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        password = try container.decode(String.self, forKey: .password)
        // Foundation reports 5.5 or 1e30 for an Int as "not valid JSON"; read a Double and say what is wrong.
        // Left out means the default; `null` is a wrong value, not a way to say "default".
        if container.contains(.cost) {
            let number = try container.decode(Double.self, forKey: .cost)
            guard number.rounded() == number, abs(number) < 1_000_000 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .cost, in: container, debugDescription: "must be a whole number within bcrypt's range")
            }
            cost = Int(number)
        }
    }
}

struct VerifyRequestBody: Decodable {
    var password: String
    /// `nil`: `"hash": null`, an unknown user. Left out is still a missing field.
    var hash: String?

    enum CodingKeys: String, CodingKey {
        case password, hash
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        password = try container.decode(String.self, forKey: .password)
        guard container.contains(.hash) else {
            throw DecodingError.keyNotFound(
                CodingKeys.hash, .init(codingPath: [], debugDescription: "field \"hash\" is required"))
        }
        hash = try container.decodeNil(forKey: .hash) ? nil : container.decode(String.self, forKey: .hash)
    }
}

struct NeedsRehashRequestBody: Decodable {
    var hash: String
}
