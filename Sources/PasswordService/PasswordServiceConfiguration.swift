import Argon2
import Bcrypt
import ServiceDefaults

/// The algorithm new hashes are made with (`--algorithm`); verify takes both.
public enum PasswordAlgorithm: String, Sendable, Equatable, CaseIterable {
    case bcrypt
    case argon2id
}

/// The limits and defaults of the password API.
public struct PasswordServiceConfiguration: Sendable, Equatable {
    /// The cost `/api/load` uses, and `/api/hash` when the request names none.
    public var defaultCost: Int
    /// The costs a new hash may have (`--min-cost`…`--max-cost`).
    public var allowedCosts: ClosedRange<Int>
    /// The costs a stored hash given to verify may carry: down to bcrypt's lowest, so that raising
    /// the policy never locks a user out (a match below the policy is rehashed), up to the same
    /// ceiling, so that a crafted `$2b$31$` hash cannot hold a core for days.
    public var verifiableCosts: ClosedRange<Int> {
        BcryptHasher.supportedCosts.lowerBound...allowedCosts.upperBound
    }
    /// The largest request body read; larger ones get 413.
    public var maximumBodyBytes: Int
    /// The pepper keys (`--pepper-file`), or `nil` for none.
    public var pepper: Pepper?
    /// What new hashes are made with.
    public var algorithm: PasswordAlgorithm
    /// argon2id's parameters for new hashes (`--argon2-memory`, `--argon2-passes`, `--argon2-lanes`).
    public var argon2: Argon2Parameters
    /// The most a stored argon2id hash given to verify may ask for: down to argon2's own minimums,
    /// so that a policy raised never locks a user out, up to these, so that a crafted hash is a
    /// 400 before anything is allocated for it.
    public var argon2Limits: Argon2Limits

    /// The body limit unless configured: a password request is well under 1 KiB.
    public static let defaultMaximumBodyBytes = 4096

    /// Creates a configuration; `allowedCosts` must lie within bcrypt's 4...31 and hold `defaultCost`.
    public init(
        defaultCost: Int = HashDefaults.cost,
        allowedCosts: ClosedRange<Int> = BcryptHasher.supportedCosts.lowerBound...HashDefaults.maximumCost,
        maximumBodyBytes: Int = defaultMaximumBodyBytes,
        pepper: Pepper? = nil, algorithm: PasswordAlgorithm = .bcrypt, argon2: Argon2Parameters = .owasp,
        argon2Limits: Argon2Limits? = nil
    ) {
        self.pepper = pepper
        self.algorithm = algorithm
        self.argon2 = argon2
        self.argon2Limits = argon2Limits ?? Self.defaultArgon2Limits(for: argon2)
        self.defaultCost = defaultCost
        self.allowedCosts = allowedCosts
        self.maximumBodyBytes = maximumBodyBytes
    }

    /// Why the configuration cannot be used, or `nil`.
    public var problem: String? {
        if !BcryptHasher.supportedCosts.contains(allowedCosts.lowerBound)
            || !BcryptHasher.supportedCosts.contains(allowedCosts.upperBound)
        {
            return "allowed costs \(allowedCosts) must lie within bcrypt's 4...31"
        }
        if !allowedCosts.contains(defaultCost) {
            return "default cost \(defaultCost) is outside the allowed \(allowedCosts)"
        }
        if let problem = argon2.problem { return "argon2id parameters: \(problem)" }
        if !argon2Limits.allow(argon2) {
            return
                "argon2id \(argon2) exceeds the limits stored hashes are held to (m <= \(argon2Limits.maximumMemoryKiB) KiB, t <= \(argon2Limits.maximumPasses), p <= \(argon2Limits.maximumLanes))"
        }
        if maximumBodyBytes < 64 { return "maximum body size \(maximumBodyBytes) is too small to hold a request" }
        return nil
    }

    /// The limits when none are given: four times the policy's memory (at least 256 MiB, within
    /// the hardest), 16 passes (more when the policy has more), 16 lanes.
    public static func defaultArgon2Limits(for policy: Argon2Parameters) -> Argon2Limits {
        Argon2Limits(
            maximumMemoryKiB: min(max(policy.memoryKiB * 4, 256 * 1024), Argon2Limits.hardest.memoryKiB),
            maximumPasses: min(max(policy.passes, 16), Argon2Limits.hardest.passes),
            maximumLanes: Argon2Limits.hardest.lanes)
    }
}
