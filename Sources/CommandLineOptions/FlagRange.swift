import Argon2
import ArgumentParser
import Bcrypt

/// The values a bounded flag takes: one definition that the commands' `validate()` checks,
/// their `--help` shows, and `fullyloaded flag-ranges` prints as the docs' table of valid ranges.
public struct FlagRange: Sendable {
    /// The flags it bounds, as typed: `--threads`.
    public let flags: [String]
    /// The commands that take them with this range.
    public let commands: [String]
    /// The range as the docs, `--help` and the refusal say it: `1...256`, `(0, 600] seconds`.
    public let text: String
    /// More to say in the docs' table (an order between flags, a default).
    public let note: String?
    private let accepts: @Sendable (Double) -> Bool

    private init(
        _ flags: [String], _ commands: [String], _ text: String, note: String? = nil,
        accepts: @escaping @Sendable (Double) -> Bool
    ) {
        self.flags = flags
        self.commands = commands
        self.text = text
        self.note = note
        self.accepts = accepts
    }

    /// Whole numbers from `bounds.lowerBound` to `bounds.upperBound`, in `unit` if given.
    static func integers(
        _ flags: [String], _ commands: [String], _ bounds: ClosedRange<Int>, unit: String? = nil, note: String? = nil
    ) -> FlagRange {
        FlagRange(
            flags, commands, "\(bounds.lowerBound)...\(bounds.upperBound)" + (unit.map { " " + $0 } ?? ""), note: note
        ) {
            $0 >= Double(bounds.lowerBound) && $0 <= Double(bounds.upperBound)
        }
    }

    /// Numbers from `bounds.lowerBound` (included, or not when `openBelow`) to `bounds.upperBound`.
    static func numbers(
        _ flags: [String], _ commands: [String], _ bounds: ClosedRange<Double>, openBelow: Bool = false,
        unit: String? = nil
    ) -> FlagRange {
        let range =
            openBelow
            ? "(\(bounds.lowerBound.formatted), \(bounds.upperBound.formatted)]"
            : "\(bounds.lowerBound.formatted)...\(bounds.upperBound.formatted)"
        return FlagRange(flags, commands, range + (unit.map { " " + $0 } ?? "")) {
            (openBelow ? $0 > bounds.lowerBound : $0 >= bounds.lowerBound) && $0 <= bounds.upperBound
        }
    }

    /// Zero or any positive number.
    static func nonNegative(_ flags: [String], _ commands: [String]) -> FlagRange {
        FlagRange(flags, commands, "0 or more") { $0 >= 0 }
    }

    /// Refuses `value` of `flag` when it is out of the range, naming the flag and the range.
    public func check(_ value: some BinaryInteger, flag: String? = nil) throws {
        try check(Double(value), flag: flag)
    }

    /// Refuses `value` of `flag` when it is out of the range, naming the flag and the range.
    public func check(_ value: Double, flag: String? = nil) throws {
        guard value.isFinite, accepts(value) else {
            throw ValidationError("\(flag ?? flags[0]) must be \(text.hasPrefix("(") ? "in " : "")\(text)")
        }
    }

    /// The row of the docs' table: flags, commands, range.
    public var markdownRow: String {
        "| \(flags.map { "`\($0)`" }.joined(separator: ", ")) | \(commands.map { "`\($0)`" }.joined(separator: ", ")) | "
            + text + (note.map { ", " + $0 } ?? "") + " |"
    }
}

extension FlagRange {
    public static let deadline = numbers(
        ["--deadline"], ["up", "worker", "nginx-upstreams"], 0...600, openBelow: true, unit: "seconds")
    public static let computeSlots = integers(["--compute-slots"], ["up", "worker"], 1...256)
    public static let headroom = numbers(["--headroom"], ["up", "worker"], 0...1, openBelow: true)
    public static let lanes = integers(["--lanes"], ["up", "worker"], 1...BcryptLanes.maximumLanes)
    public static let refusalRate = nonNegative(["--refusal-rate"], ["up", "worker"])
    public static let requestThreads = integers(["--threads"], ["worker", "nginx-upstreams"], 1...4096)
    public static let workers = integers(["--workers"], ["nginx-upstreams"], 1...1024)
    public static let interval = numbers(["--interval"], ["monitor"], 0.05...10, unit: "seconds")
    public static let webSocketIdle = integers(["--ws-idle-seconds"], ["monitor"], 1...86_400)
    public static let upLimits = nonNegative(["--rate-limit", "--max-requests"], ["up"])
    public static let samples = integers(["--samples"], ["calibrate"], 1...1000)
    public static let calibrationThreads = integers(["--threads"], ["calibrate"], 1...256)
    public static let calibrationLanes = integers(["--lanes"], ["calibrate"], 0...BcryptLanes.maximumLanes)
    public static let cost = integers(
        ["--cost", "--min-cost", "--max-cost"], ["up", "worker"], BcryptHasher.supportedCosts,
        note:
            "`--min-cost` ≤ `--cost` ≤ `--max-cost` (`--min-cost` defaults to \(CostOptions.recommendedMinimumCost), or `--cost` when lower)"
    )

    public static let argon2Memory = integers(
        ["--argon2-memory"], ["up", "worker", "calibrate"], 8...Argon2Limits.hardest.memoryKiB, unit: "KiB",
        note: "`--argon2-lanes` × 8 at least, and within `--hash-memory`")
    public static let argon2Passes = integers(
        ["--argon2-passes"], ["up", "worker", "calibrate"], 1...Argon2Limits.hardest.passes)
    public static let argon2Lanes = integers(
        ["--argon2-lanes"], ["up", "worker", "calibrate"], 1...Argon2Limits.hardest.lanes)
    public static let hashMemory = integers(["--hash-memory"], ["up", "worker"], 1...(1 << 22), unit: "MiB")

    /// Every bounded flag, in the order of the docs' table.
    public static let all: [FlagRange] = [
        deadline, computeSlots, headroom, lanes, refusalRate, requestThreads, workers, interval, webSocketIdle,
        upLimits, samples, calibrationThreads, calibrationLanes, cost, argon2Memory, argon2Passes, argon2Lanes,
        hashMemory,
    ]
}

extension Double {
    /// `600` rather than `600.0`, `0.05` as it is.
    fileprivate var formatted: String {
        rounded() == self && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
