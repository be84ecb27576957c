import Foundation

/// CPU time counters from `/proc/stat`, and busy percentages between two readings.
public struct ProcStat: Sendable, Equatable {
    /// Busy and total jiffies of one CPU (or of all).
    public struct Times: Sendable, Equatable {
        public var busy: UInt64
        public var total: UInt64

        public init(busy: UInt64, total: UInt64) {
            self.busy = busy
            self.total = total
        }
    }

    /// All CPUs together (the `cpu` line).
    public var all: Times
    /// One entry per core (`cpu0`, `cpu1`, …).
    public var cores: [Times]

    /// Parses the text of `/proc/stat`; `nil` if it has no `cpu` lines.
    public init?(parsing text: String) {
        var all: Times?
        var cores: [Times] = []
        for line in text.split(separator: "\n") where line.hasPrefix("cpu") {
            let fields = line.split(separator: " ")
            // user nice system idle iowait irq softirq steal (guest time is already in user).
            let values = fields.dropFirst().prefix(8).compactMap { UInt64($0) }
            guard values.count >= 4 else { continue }
            let idle = values[3] + (values.count > 4 ? values[4] : 0)
            let total = values.reduce(0, +)
            let times = Times(busy: total - idle, total: total)
            if fields[0] == "cpu" { all = times } else { cores.append(times) }
        }
        guard let all else { return nil }
        self.all = all
        self.cores = cores
    }

    /// Reads `/proc/stat` now.
    public static func read() -> ProcStat? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return ProcStat(parsing: text)
    }

    /// Busy percentage of all CPUs and of each core since `earlier`.
    public func busyPercent(since earlier: ProcStat) -> (all: Double, cores: [Double]) {
        func percent(_ now: Times, _ then: Times) -> Double {
            let total = now.total &- then.total
            guard total > 0, now.total >= then.total, now.busy >= then.busy else { return 0 }
            return min(100, Double(now.busy - then.busy) * 100 / Double(total))
        }
        return (percent(all, earlier.all), zip(cores, earlier.cores).map { percent($0, $1) })
    }
}
