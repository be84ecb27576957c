import ServiceDefaults

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
        deadline: Double, headroom: Double = PromiseDefaults.headroom, refusalRate: Double = 0, fairness: Bool = false,
        lanes: Int = 1
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
