import Argon2
import Bcrypt
import JSONWriting
import POSIXSupport

/// Stored hashes: what verify and needs-rehash take, what falls below the policy, the jobs that
/// hash and check them, and the rehash a match below the policy is answered with.
extension PasswordService {
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
    func hashInput(_ password: String, key: Pepper.Key?) throws(APIError) -> String {
        guard let key else { return password }
        do throws(BcryptError) {
            return try Pepper.peppered(password, with: key)
        } catch {
            throw APIError(error)
        }
    }

    /// The job that hashes `input` (the password, or its HMAC under `key`) at the policy.
    func newHashJob(_ input: String, key: Pepper.Key?, cost: Int? = nil) -> ExpensiveJob {
        switch configuration.algorithm {
        case .bcrypt: .hash(password: input, cost: cost ?? configuration.defaultCost)
        case .argon2id: .hashArgon2(password: input, parameters: configuration.argon2, keyID: key?.id)
        }
    }

    /// The job that checks `input` against `kind`.
    func verifyJob(_ input: String, against kind: StoredHash.Kind) -> ExpensiveJob {
        switch kind {
        case .bcrypt(let hash): .verify(password: input, hash: hash)
        case .argon2id(let hash): .verifyArgon2(password: input, hash: hash)
        }
    }

    /// A new hash as the application gets it: bcrypt in the pepper's envelope when there is one
    /// (argon2id records the key itself), or `nil` for a job that made none.
    func stored(_ result: ExpensiveJobResult) -> String? {
        switch result {
        case .hashed(let hash):
            configuration.pepper.map { PepperedHash(keyID: $0.newest.id, hash: hash).string } ?? hash.string
        case .hashedArgon2(let hash): hash.string
        case .verified: nil
        }
    }

    /// A stored hash given to verify or needs-rehash, within the costs or the argon2id limits
    /// verify takes, its pepper key (if any) one this worker holds.
    func parse(hash text: String) throws(APIError) -> StoredHash {
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
    func pepperKey(_ id: String?) throws(APIError) -> Pepper.Key? {
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
    func rehash(password: String, _ request: APIRequest, runner: some ExpensiveJobRunner) -> APIResponse {
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
    static func matched(rehashDeferred reason: String) -> APIResponse {
        APIResponse(
            status: 200,
            body: JSONText.object([("match", .bool(true)), ("rehash", .null), ("rehash_deferred", .string(reason))]))
    }
}
