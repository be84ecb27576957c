import Argon2
import ArgumentParser
import Bcrypt
import Foundation
import JSONLogging
import PasswordService
import ServiceDefaults

/// The `fullyloaded` command: every process of the service is a subcommand of one binary.
@main
struct FullyLoaded: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fullyloaded",
        abstract: "A password-hashing service that runs every core fully loaded and still answers at once.",
        subcommands: [
            UpCommand.self, WorkerCommand.self, MonitorCommand.self, CalibrateCommand.self, NginxUpstreamsCommand.self,
            AdmissionBenchCommand.self, FlagRangesCommand.self, DefaultsCommand.self,
        ]
    )

    /// Every log line of every process is one JSON object, before any command runs.
    static func main() {
        JSONLogHandler.bootstrap()
        main(nil)
    }
}

/// Options shared by every command that serves the password API.
struct CostOptions: ParsableArguments {
    @Option(
        help:
            "bcrypt cost of /api/load and the default of /api/hash: the policy; verify rehashes a matching hash below it (\(FlagRange.cost.text))."
    )
    var cost = HashDefaults.cost

    @Option(
        help:
            "Lowest cost a new hash may have (default: \(recommendedMinimumCost), OWASP's floor for bcrypt, or --cost when that is lower; \(FlagRange.cost.text)); verify takes stored hashes down to \(BcryptHasher.supportedCosts.lowerBound)."
    )
    var minCost: Int?

    @Option(help: "Highest cost a request may ask for, or a verified hash may carry (\(FlagRange.cost.text)).")
    var maxCost = HashDefaults.maximumCost

    @Option(
        help:
            "A file of pepper keys, one id:base64-key per line (the last hashes, all verify), root's or this user's, mode 0600 or 0640."
    )
    var pepperFile: String?

    @Option(
        help:
            "What new hashes are made with (bcrypt or argon2id); verify takes both, and rehashes a match made with the other."
    )
    var algorithm = PasswordAlgorithm.bcrypt

    @Option(help: "argon2id's memory per hash, m (\(FlagRange.argon2Memory.text); OWASP's 19456 = 19 MiB).")
    var argon2Memory = Argon2Parameters.owasp.memoryKiB

    @Option(help: "argon2id's passes over its memory, t (\(FlagRange.argon2Passes.text)).")
    var argon2Passes = Argon2Parameters.owasp.passes

    @Option(
        help:
            "argon2id's lanes, p (\(FlagRange.argon2Lanes.text)); computed on one thread, so they change the hash, not its time."
    )
    var argon2Lanes = Argon2Parameters.owasp.lanes

    /// argon2id's parameters for new hashes.
    var argon2: Argon2Parameters {
        Argon2Parameters(memoryKiB: argon2Memory, passes: argon2Passes, lanes: argon2Lanes)
    }

    func validate() throws {
        try FlagRange.argon2Memory.check(argon2Memory)
        try FlagRange.argon2Passes.check(argon2Passes)
        try FlagRange.argon2Lanes.check(argon2Lanes)
        if let problem = argon2.problem { throw ValidationError("argon2id: \(problem)") }
    }

    /// bcrypt below this cost is too cheap to slow down a guessing attacker; a deployment that
    /// chooses a lower default (a demo, a test) says so with `--cost`.
    static let recommendedMinimumCost = HashDefaults.minimumCost

    /// The floor in force: `--min-cost`, else the recommended floor, or `--cost` when lower.
    var effectiveMinCost: Int { minCost ?? min(Self.recommendedMinimumCost, cost) }
}

/// Options of the N-second promise, shared by `worker` and `up`.
struct AdmissionOptions: ParsableArguments {
    @Option(
        help:
            "N: answer every expensive request within this many seconds, or refuse it at once (\(FlagRange.deadline.text))."
    )
    var deadline = PromiseDefaults.deadline

    @Option(help: "Compute slots shared by all workers of the host (\(FlagRange.computeSlots.text); default: cores).")
    var computeSlots: Int?

    /// `--compute-slots`, or one per core.
    var slots: Int { computeSlots ?? ProcessInfo.processInfo.activeProcessorCount }

    @Option(help: "Admit only jobs predicted to finish within this fraction of N (\(FlagRange.headroom.text)).")
    var headroom = PromiseDefaults.headroom

    @Option(help: "Seconds of one hash at --cost to predict from before jobs have run (default: measured at start).")
    var estimateSeconds: Double?

    @Option(help: "Nice value of the compute threads (request threads run at 0; below 0 needs CAP_SYS_NICE).")
    var computeNiceness = PoolDefaults.computeNiceness

    @Option(
        help:
            "Refusals per second per compute slot answered at once; more are paced, never past N (\(FlagRange.refusalRate.text); 0: off). With fairness on, each client has a budget of its own at this rate."
    )
    var refusalRate = PromiseDefaults.refusalRatePerSlot

    @Option(
        help:
            "on: when the queue is full, each client (IPv4 /24 then address, IPv6 /48 then /64, or a name from a trusted proxy) gets an equal share of the compute time; off: one queue in arrival order."
    )
    var fairness = Fairness.on

    @Option(
        help:
            "The most waiting jobs of one process and cost that one compute slot hashes together, side by side, with the multi-lane bcrypt core (\(FlagRange.lanes.text); 1: every job alone on libxcrypt; 4 about doubles the hashes per core under load)."
    )
    var lanes = 1

    @Option(
        help:
            "Memory that running hashes may hold together, argon2id's m each (\(FlagRange.hashMemory.text); default: a quarter of the host's memory). A job waits for its memory as for its slot."
    )
    var hashMemory: Int?

    /// `--hash-memory`, or a quarter of the host's physical memory, in KiB.
    var hashMemoryKiB: Int {
        hashMemory.map { $0 * 1024 } ?? Int(min(ProcessInfo.processInfo.physicalMemory / 4 / 1024, UInt64(Int32.max)))
    }

    /// Whether admission is shared fairly among clients.
    enum Fairness: String, ExpressibleByArgument, CaseIterable {
        case on, off
    }

    func validate() throws {
        try FlagRange.refusalRate.check(refusalRate)
        try FlagRange.deadline.check(deadline)
        try FlagRange.computeSlots.check(slots)
        try FlagRange.headroom.check(headroom)
        try FlagRange.lanes.check(lanes)
        if let hashMemory { try FlagRange.hashMemory.check(hashMemory) }
        if let estimateSeconds, !(estimateSeconds > 0) { throw ValidationError("--estimate-seconds must be positive") }
    }
}

extension PasswordAlgorithm: ExpressibleByArgument {}
