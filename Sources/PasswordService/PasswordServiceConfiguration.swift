import Bcrypt

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

    /// The body limit unless configured: a password request is well under 1 KiB.
    public static let defaultMaximumBodyBytes = 4096

    /// Creates a configuration; `allowedCosts` must lie within bcrypt's 4...31 and hold `defaultCost`.
    public init(
        defaultCost: Int = 12, allowedCosts: ClosedRange<Int> = 4...14, maximumBodyBytes: Int = defaultMaximumBodyBytes,
        pepper: Pepper? = nil
    ) {
        self.pepper = pepper
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
        if maximumBodyBytes < 64 { return "maximum body size \(maximumBodyBytes) is too small to hold a request" }
        return nil
    }
}
