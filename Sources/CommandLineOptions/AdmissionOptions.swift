import ArgumentParser
import Foundation
import ServiceDefaults

/// Options of the N-second promise, shared by `worker` and `up`.
public struct AdmissionOptions: ParsableArguments, Sendable {
    /// The defaults; ArgumentParser fills the options in when it parses.
    public init() {}

    @Option(
        help:
            "N: answer every expensive request within this many seconds, or refuse it at once (\(FlagRange.deadline.text))."
    )
    public var deadline = PromiseDefaults.deadline

    @Option(help: "Compute slots shared by all workers of the host (\(FlagRange.computeSlots.text); default: cores).")
    public var computeSlots: Int?

    /// `--compute-slots`, or one per core.
    public var slots: Int { computeSlots ?? ProcessInfo.processInfo.activeProcessorCount }

    @Option(help: "Admit only jobs predicted to finish within this fraction of N (\(FlagRange.headroom.text)).")
    public var headroom = PromiseDefaults.headroom

    @Option(help: "Seconds of one hash at --cost to predict from before jobs have run (default: measured at start).")
    public var estimateSeconds: Double?

    @Option(help: "Nice value of the compute threads (request threads run at 0; below 0 needs CAP_SYS_NICE).")
    public var computeNiceness = PoolDefaults.computeNiceness

    @Option(
        help:
            "Refusals per second per compute slot answered at once; more are paced, never past N (\(FlagRange.refusalRate.text); 0: off). With fairness on, each client has a budget of its own at this rate."
    )
    public var refusalRate = PromiseDefaults.refusalRatePerSlot

    @Option(
        help:
            "on: when the queue is full, each client (IPv4 /24 then address, IPv6 /48 then /64, or a name from a trusted proxy) gets an equal share of the compute time; off: one queue in arrival order."
    )
    public var fairness = Fairness.on

    @Option(
        help:
            "The most waiting jobs of one process and cost that one compute slot hashes together, side by side, with the multi-lane bcrypt core (\(FlagRange.lanes.text); 1: every job alone on libxcrypt; 4 about doubles the hashes per core under load)."
    )
    public var lanes = 1

    @Option(
        help:
            "Memory that running hashes may hold together, argon2id's m each (\(FlagRange.hashMemory.text); default: a quarter of the host's memory). A job waits for its memory as for its slot."
    )
    public var hashMemory: Int?

    /// `--hash-memory`, or a quarter of the host's physical memory, in KiB.
    public var hashMemoryKiB: Int {
        hashMemory.map { $0 * 1024 } ?? Int(min(ProcessInfo.processInfo.physicalMemory / 4 / 1024, UInt64(Int32.max)))
    }

    /// Whether admission is shared fairly among clients.
    public enum Fairness: String, ExpressibleByArgument, CaseIterable, Sendable {
        case on, off
    }

    public func validate() throws {
        try FlagRange.refusalRate.check(refusalRate)
        try FlagRange.deadline.check(deadline)
        try FlagRange.computeSlots.check(slots)
        try FlagRange.headroom.check(headroom)
        try FlagRange.lanes.check(lanes)
        if let hashMemory { try FlagRange.hashMemory.check(hashMemory) }
        if let estimateSeconds, !(estimateSeconds > 0) { throw ValidationError("--estimate-seconds must be positive") }
    }
}
