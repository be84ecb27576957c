import Argon2
import ArgumentParser
import Bcrypt
import PasswordService
import ServiceDefaults

/// Options shared by every command that serves the password API.
public struct CostOptions: ParsableArguments, Sendable {
    /// The defaults; ArgumentParser fills the options in when it parses.
    public init() {}

    @Option(
        help:
            "bcrypt cost of /api/load and the default of /api/hash: the policy; verify rehashes a matching hash below it (\(FlagRange.cost.text))."
    )
    public var cost = HashDefaults.cost

    @Option(
        help:
            "Lowest cost a new hash may have (default: \(recommendedMinimumCost), OWASP's floor for bcrypt, or --cost when that is lower; \(FlagRange.cost.text)); verify takes stored hashes down to \(BcryptHasher.supportedCosts.lowerBound)."
    )
    public var minCost: Int?

    @Option(help: "Highest cost a request may ask for, or a verified hash may carry (\(FlagRange.cost.text)).")
    public var maxCost = HashDefaults.maximumCost

    @Option(
        help:
            "A file of pepper keys, one id:base64-key per line (the last hashes, all verify), root's or this user's, mode 0600 or 0640."
    )
    public var pepperFile: String?

    @Option(
        help:
            "What new hashes are made with (bcrypt or argon2id); verify takes both, and rehashes a match made with the other."
    )
    public var algorithm = PasswordAlgorithm.bcrypt

    @Option(help: "argon2id's memory per hash, m (\(FlagRange.argon2Memory.text); OWASP's 19456 = 19 MiB).")
    public var argon2Memory = Argon2Parameters.owasp.memoryKiB

    @Option(help: "argon2id's passes over its memory, t (\(FlagRange.argon2Passes.text)).")
    public var argon2Passes = Argon2Parameters.owasp.passes

    @Option(
        help:
            "argon2id's lanes, p (\(FlagRange.argon2Lanes.text)); computed on one thread, so they change the hash, not its time."
    )
    public var argon2Lanes = Argon2Parameters.owasp.lanes

    /// argon2id's parameters for new hashes.
    public var argon2: Argon2Parameters {
        Argon2Parameters(memoryKiB: argon2Memory, passes: argon2Passes, lanes: argon2Lanes)
    }

    public func validate() throws {
        try FlagRange.argon2Memory.check(argon2Memory)
        try FlagRange.argon2Passes.check(argon2Passes)
        try FlagRange.argon2Lanes.check(argon2Lanes)
        if let problem = argon2.problem { throw ValidationError("argon2id: \(problem)") }
    }

    /// bcrypt below this cost is too cheap to slow down a guessing attacker; a deployment that
    /// chooses a lower default (a demo, a test) says so with `--cost`.
    public static let recommendedMinimumCost = HashDefaults.minimumCost

    /// The floor in force: `--min-cost`, else the recommended floor, or `--cost` when lower.
    public var effectiveMinCost: Int { minCost ?? min(Self.recommendedMinimumCost, cost) }
}

extension PasswordAlgorithm: ExpressibleByArgument {}
