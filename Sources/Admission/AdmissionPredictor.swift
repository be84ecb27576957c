/// Predicts when an expensive job would finish if admitted now, from the jobs ahead of it.
///
/// Jobs take compute slots in arrival order. Each slot is free when its running job's remaining
/// work is done; queued jobs are placed, in order, on whichever slot frees first (list
/// scheduling), and the new job goes after them. The queue is given as counts per cost, so a
/// prediction costs O(slots), whatever the queue's length: exact when the waiting jobs share one
/// cost (the usual case: one default cost), and for mixed costs as if each took the average.
public struct AdmissionPredictor: Sendable, Equatable {
    /// A job holding a slot.
    public struct RunningJob: Sendable, Equatable {
        /// Its bcrypt cost.
        public var cost: Int
        /// How long it has run, in seconds.
        public var elapsed: Double

        /// Creates a running job.
        public init(cost: Int, elapsed: Double) {
            self.cost = cost
            self.elapsed = elapsed
        }
    }

    /// What the predictor expects for a new job.
    public struct Prediction: Sendable, Equatable {
        /// Seconds from now until the job would get a slot.
        public var startsIn: Double
        /// Seconds from now until it would be answered.
        public var completesIn: Double
        /// Seconds from now until the work already admitted is done.
        public var drainsIn: Double

        /// Creates a prediction.
        public init(startsIn: Double, completesIn: Double, drainsIn: Double) {
            self.startsIn = startsIn
            self.completesIn = completesIn
            self.drainsIn = drainsIn
        }
    }

    /// Compute slots shared by all workers of the host.
    public var slots: Int
    /// The service-time model.
    public var estimate: ServiceTimeEstimate

    /// Creates a predictor.
    public init(slots: Int, estimate: ServiceTimeEstimate) {
        self.slots = max(1, slots)
        self.estimate = estimate
    }

    /// Predicts the new job's start and completion behind `running` and the waiting jobs
    /// (costs, in arrival order).
    public func predict(running: [RunningJob], queued: [Int], newCost: Int) -> Prediction {
        predict(running: running, queue: QueueSummary(costs: queued), newCost: newCost)
    }

    /// Predicts the new job's start and completion behind `running` and `queue`.
    public func predict(running: [RunningJob], queue: QueueSummary, newCost: Int) -> Prediction {
        let count = max(slots, running.count)
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: count) { freeAt in
            for index in 0..<count {
                freeAt[index] =
                    index < running.count
                    ? max(0, estimate.seconds(forCost: running[index].cost) - running[index].elapsed) : 0
            }
            return predict(
                freeAt: freeAt, queuedCount: queue.count, queuedWork: queue.work(estimate), newCost: newCost)
        }
    }

    /// The same from raw figures, allocating nothing (the admission path): `freeAt` holds when
    /// each slot is first free (at least `slots` entries; reordered), and the waiting work comes
    /// as a count of units (jobs, or batches of them) and their total seconds; `newService` is
    /// the new job's own time in a slot when it is not its time alone.
    func predict(
        freeAt: UnsafeMutableBufferPointer<Double>, queuedCount: Int, queuedWork: Double, newCost: Int,
        newService: Double? = nil
    ) -> Prediction {
        var freeAt = freeAt
        freeAt.sort()
        let service = newService ?? estimate.seconds(forCost: newCost)
        let earliest = freeAt.first!
        let latest = freeAt.last!
        let each = queuedCount > 0 ? queuedWork / Double(queuedCount) : 0
        guard queuedCount > 0, each > 0, each.isFinite else {
            return Prediction(startsIn: earliest, completesIn: earliest + service, drainsIn: latest)
        }
        let start = Self.start(ofJob: queuedCount + 1, sortedFreeAt: UnsafeBufferPointer(freeAt), each: each)
        let lastStart = Self.start(ofJob: queuedCount, sortedFreeAt: UnsafeBufferPointer(freeAt), each: each)
        return Prediction(startsIn: start, completesIn: start + service, drainsIn: max(latest, lastStart + each))
    }

    /// When the `n`-th job (from 1) starts, if every job takes `each` seconds and slot `i` is
    /// first free at `sortedFreeAt[i]` (ascending): the n-th smallest of { freeAt[i] + k × each }.
    static func start(ofJob n: Int, sortedFreeAt freeAt: UnsafeBufferPointer<Double>, each: Double) -> Double {
        let earliest = freeAt.first!
        if freeAt.last! - earliest < each {
            // Every slot frees within one job's time of the first (the usual case): starts then
            // go round the slots in this order, one job's time apart per round. O(1).
            return freeAt[(n - 1) % freeAt.count] + Double((n - 1) / freeAt.count) * each
        }
        func startedBy(_ time: Double) -> Int {
            var count = 0
            for free in freeAt where free <= time { count += Int(((time - free) / each).rounded(.down)) + 1 }
            return count
        }
        var low = earliest
        var high = earliest + Double(n - 1) * each
        if startedBy(low) >= n { return low }
        for _ in 0..<64 where high - low > each * 1e-9 {
            let middle = (low + high) / 2
            if startedBy(middle) >= n { high = middle } else { low = middle }
        }
        // `high` lies just past the answer; the answer is the latest start at or before it.
        var answer = earliest
        for free in freeAt where free <= high {
            answer = max(answer, free + ((high - free) / each + 1e-9).rounded(.down) * each)
        }
        return answer
    }
}
