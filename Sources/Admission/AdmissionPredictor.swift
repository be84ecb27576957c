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

/// The waiting jobs as counts per bcrypt cost: what the shared segment keeps, so that a
/// prediction never walks the queue.
public struct QueueSummary: Sendable, Equatable {
    /// Waiting jobs at each cost (index = cost).
    public private(set) var countsByCost: [Int]
    /// Waiting jobs in all.
    public private(set) var count: Int

    /// Costs are 0...31 (bcrypt's range).
    public static let costClasses = SharedSegment.costClasses

    /// An empty queue.
    public init() {
        countsByCost = Array(repeating: 0, count: Self.costClasses)
        count = 0
    }

    /// The queue of these jobs.
    public init(costs: [Int]) {
        self.init()
        for cost in costs { add(cost: cost) }
    }

    /// Counts one more waiting job.
    public mutating func add(cost: Int, count added: Int = 1) {
        let index = min(max(cost, 0), Self.costClasses - 1)
        countsByCost[index] += added
        count += added
    }

    /// Seconds of work waiting, by `estimate`.
    public func work(_ estimate: ServiceTimeEstimate) -> Double {
        var total = 0.0
        for (cost, jobs) in countsByCost.enumerated() where jobs > 0 {
            total += Double(jobs) * estimate.seconds(forCost: cost)
        }
        return total
    }
}

/// When to refuse: the promise in numbers.
public struct AdmissionPolicy: Sendable, Equatable {
    /// N: every expensive answer leaves within this many seconds of arrival.
    public var deadline: Double
    /// Admit only jobs predicted to finish within this fraction of N; the rest of N absorbs
    /// service times longer than estimated, so that refusals at the deadline stay rare.
    public var headroom: Double

    /// Refusals per second the host answers at once; more are held back and paced to this rate
    /// (never past N). Clients that ignore Retry-After and re-send at once would otherwise turn
    /// spare cheap capacity into a storm of refusals that takes the cores from bcrypt.
    /// 0 turns pacing off. With fairness on, every client has a budget of its own at this rate,
    /// so that only the client who storms waits for its refusals.
    public var refusalRate: Double

    /// Whether a contended queue is shared fairly among clients (max-min, by work), or kept as
    /// one queue in arrival order.
    public var fairness: Bool

    /// The most jobs one compute slot runs together (waiting jobs of one process at one cost,
    /// hashed side by side by the multi-lane core); 1 runs every job alone.
    public var lanes: Int

    /// Creates a policy.
    public init(
        deadline: Double, headroom: Double = 0.9, refusalRate: Double = 0, fairness: Bool = false, lanes: Int = 1
    ) {
        self.deadline = deadline
        self.headroom = headroom
        self.refusalRate = refusalRate
        self.fairness = fairness
        self.lanes = min(max(1, lanes), SharedSegment.maximumBatch)
    }

    /// The refusal budget's burst: this many seconds' worth of refusals leave at once.
    public static let refusalBurstSeconds = 0.25

    /// When a refusal decided at `now` may be answered, given the budget's theoretical arrival
    /// time `tat` (GCRA); returns the answer time and the new `tat`. Held refusals still leave
    /// within `headroom × N` of the request's arrival.
    public func paceRefusal(now: Double, arrival: Double? = nil, theoreticalArrival tat: Double) -> (
        answerAt: Double, newTAT: Double
    ) {
        guard refusalRate > 0 else { return (now, tat) }
        let interval = 1 / refusalRate
        let latest = (arrival ?? now) + deadline * headroom
        guard latest > now else { return (now, tat) }
        // The budget runs at most one full hold ahead of now, so that it recovers within N
        // once arrivals slow down, however long the overload lasted.
        let newTAT = min(max(tat, now) + interval, now + deadline * headroom + Self.refusalBurstSeconds + interval)
        let answerAt = max(now, newTAT - Self.refusalBurstSeconds - interval)
        return (min(answerAt, latest), newTAT)
    }

    /// What to do with a job given its prediction, `elapsed` seconds after it arrived.
    public func decide(
        _ prediction: AdmissionPredictor.Prediction, serviceSeconds: Double, elapsed: Double = 0
    ) -> AdmissionDecision {
        if elapsed + prediction.completesIn <= deadline * headroom { return .admit }
        // Come back when the work ahead will have drained enough for this job to fit.
        let wait = prediction.startsIn - (deadline * headroom - serviceSeconds)
        // A day at most: figures read back from the segment may be anything, and must not trap.
        return .refuse(retryAfterSeconds: wait.isFinite ? max(1, Int(min(wait, 86_400).rounded(.up))) : 86_400)
    }

    /// Time kept back from N for waking the request thread and writing the answer: 5% of N,
    /// at most 50 ms.
    public var answerMargin: Double { min(0.05, deadline * 0.05) }

    /// When (seconds after arrival) an admitted job's answer must be ready, whatever it is.
    public var answerBy: Double { deadline - answerMargin }

    /// The latest moment (seconds after arrival) a job of this service time may start and still
    /// be answered within N.
    public func latestStart(serviceSeconds: Double) -> Double {
        answerBy - serviceSeconds
    }
}

/// Admit, or refuse at once with a Retry-After.
public enum AdmissionDecision: Sendable, Equatable {
    case admit
    case refuse(retryAfterSeconds: Int)
}
