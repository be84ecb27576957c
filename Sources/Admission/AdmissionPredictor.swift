/// Predicts when an expensive job would finish if admitted now, from the jobs ahead of it.
///
/// Jobs take compute slots in arrival order. Each slot is free when its running job's remaining
/// work is done; queued jobs are placed, in order, on whichever slot frees first (list
/// scheduling), and the new job goes after them. With service times known this is exact for a
/// FIFO queue; the estimate of service time is what makes it a prediction.
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

    /// Predicts the new job's start and completion behind `running` and `queued` (costs, in
    /// arrival order).
    public func predict(running: [RunningJob], queued: [Int], newCost: Int) -> Prediction {
        var freeAt = running.map { max(0, estimate.seconds(forCost: $0.cost) - $0.elapsed) }
        if freeAt.count < slots { freeAt += Array(repeating: 0, count: slots - freeAt.count) }
        for cost in queued {
            let slot = freeAt.indices.min { freeAt[$0] < freeAt[$1] }!
            freeAt[slot] += estimate.seconds(forCost: cost)
        }
        let start = freeAt.min()!
        return Prediction(
            startsIn: start, completesIn: start + estimate.seconds(forCost: newCost), drainsIn: freeAt.max()!)
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
    /// 0 turns pacing off.
    public var refusalRate: Double

    /// Creates a policy.
    public init(deadline: Double, headroom: Double = 0.9, refusalRate: Double = 0) {
        self.deadline = deadline
        self.headroom = headroom
        self.refusalRate = refusalRate
    }

    /// The refusal budget's burst: this many seconds' worth of refusals leave at once.
    public static let refusalBurstSeconds = 0.25

    /// When a refusal decided at `now` may be answered, given the budget's theoretical arrival
    /// time `tat` (GCRA); returns the answer time and the new `tat`. Held refusals still leave
    /// within `headroom × N` of arrival.
    public func paceRefusal(now: Double, theoreticalArrival tat: Double) -> (answerAt: Double, newTAT: Double) {
        guard refusalRate > 0 else { return (now, tat) }
        let interval = 1 / refusalRate
        let newTAT = max(tat, now) + interval
        let answerAt = max(now, newTAT - Self.refusalBurstSeconds - interval)
        return (min(answerAt, now + deadline * headroom), newTAT)
    }

    /// What to do with a job given its prediction.
    public func decide(_ prediction: AdmissionPredictor.Prediction, serviceSeconds: Double) -> AdmissionDecision {
        if prediction.completesIn <= deadline * headroom { return .admit }
        // Come back when the work ahead will have drained enough for this job to fit.
        let wait = prediction.startsIn - (deadline * headroom - serviceSeconds)
        return .refuse(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
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
