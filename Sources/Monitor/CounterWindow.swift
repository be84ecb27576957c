/// The dashboard's rates over about the last second, from the segment's counters: a value fed
/// one reading per sample, with no I/O (``Sampler`` reads, this computes).
///
/// Rates over a second, not over one 250 ms sample, whose one or two hashes would make the rate
/// jump in steps of 4 per second. A replaced segment starts its counters again, and the window
/// with them.
public struct CounterWindow: Sendable {
    /// The segment's counters at one moment.
    public struct Reading: Sendable, Equatable {
        /// Monotonic seconds.
        public var time: Double
        /// Jobs answered, both algorithms.
        public var completed: UInt64
        /// Of ``completed``, argon2id's.
        public var completedArgon2: UInt64
        /// Refusals of every kind.
        public var refused: UInt64
        public var pings: UInt64
        /// Refusals at capacity, over share, displaced, and late (at the deadline or overran).
        public var atCapacity: UInt64
        public var overShare: UInt64
        public var displaced: UInt64
        public var late: UInt64

        public init(
            time: Double, completed: UInt64 = 0, completedArgon2: UInt64 = 0, refused: UInt64 = 0, pings: UInt64 = 0,
            atCapacity: UInt64 = 0, overShare: UInt64 = 0, displaced: UInt64 = 0, late: UInt64 = 0
        ) {
            self.time = time
            self.completed = completed
            self.completedArgon2 = completedArgon2
            self.refused = refused
            self.pings = pings
            self.atCapacity = atCapacity
            self.overShare = overShare
            self.displaced = displaced
            self.late = late
        }

        /// Whether `later` cannot follow this one on the same segment: a counter went back.
        func isRestarted(by later: Reading) -> Bool {
            later.completed < completed || later.refused < refused || later.pings < pings
        }
    }

    /// Per second, over the window.
    public struct Rates: Sendable, Equatable {
        public var throughput = MonitorSample.Throughput(hashesPerSecond: 0, refusalsPerSecond: 0, pingsPerSecond: 0)
        public var refusals = MonitorSample.FairShare.Refusals(atCapacity: 0, overShare: 0, displaced: 0, late: 0)

        /// No rate yet: zeros.
        public init() {}

        init(throughput: MonitorSample.Throughput, refusals: MonitorSample.FairShare.Refusals) {
            self.throughput = throughput
            self.refusals = refusals
        }
    }

    /// The window's readings, oldest first: the newest that is at least a second old, and after.
    private(set) var readings: [Reading] = []

    /// An empty window: the first reading gives zero rates.
    public init() {}

    /// Adds `reading` and returns the rates since the window's oldest reading.
    public mutating func add(_ reading: Reading) -> Rates {
        if let last = readings.last, last.isRestarted(by: reading) { readings.removeAll() }
        readings.append(reading)
        // Keep the newest reading at least a second old as the window's start.
        while readings.count > 2, reading.time - readings[1].time >= 1 { readings.removeFirst() }
        guard readings.count > 1, let first = readings.first else { return Rates() }
        let elapsed = max(0.001, reading.time - first.time)
        // Counters only grow within a window; saturate anyway, a rate is never negative.
        func rate(_ counter: KeyPath<Reading, UInt64>) -> Double {
            Double(reading[keyPath: counter] &- min(reading[keyPath: counter], first[keyPath: counter])) / elapsed
        }
        return Rates(
            throughput: .init(
                hashesPerSecond: rate(\.completed), refusalsPerSecond: rate(\.refused),
                pingsPerSecond: rate(\.pings), argon2idPerSecond: rate(\.completedArgon2)),
            refusals: .init(
                atCapacity: rate(\.atCapacity), overShare: rate(\.overShare), displaced: rate(\.displaced),
                late: rate(\.late)))
    }
}

extension MonitorSample.Wait {
    /// The queue waits of the jobs that got a slot within the last second, from the segment's
    /// recent waits (age and wait in seconds), as the dashboard shows them: in milliseconds, the
    /// median and 95th percentile (the wait at rank ⌊fraction × jobs⌋ of the sorted waits, from 0),
    /// and the longest.
    public init(recentWaits: [(age: Double, wait: Double)]) {
        let lastSecond = recentWaits.filter { $0.age <= 1 }.map { $0.wait * 1000 }.sorted()
        func percentile(_ fraction: Double) -> Double? {
            lastSecond.isEmpty ? nil : lastSecond[min(lastSecond.count - 1, Int(fraction * Double(lastSecond.count)))]
        }
        self.init(
            p50Milliseconds: percentile(0.5), p95Milliseconds: percentile(0.95), maxMilliseconds: lastSecond.last,
            jobs: lastSecond.count)
    }
}
