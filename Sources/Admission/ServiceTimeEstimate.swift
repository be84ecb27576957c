/// How long one bcrypt takes at a cost, learnt from the jobs that ran.
///
/// bcrypt's work doubles with each cost step, so one number describes every cost: the seconds
/// of a hash at cost 0, the "unit". Each finished job updates it by exponential smoothing.
public struct ServiceTimeEstimate: Sendable, Equatable {
    /// Seconds of one bcrypt at cost 0; `seconds(forCost:)` is `unitSeconds * 2^cost`.
    public private(set) var unitSeconds: Double
    /// How many observations it has seen.
    public private(set) var samples: Int
    /// The weight of a new observation.
    public var smoothing: Double

    /// Starts from a configured or measured value.
    public init(unitSeconds: Double, samples: Int = 0, smoothing: Double = 0.1) {
        self.unitSeconds = unitSeconds
        self.samples = samples
        self.smoothing = smoothing
    }

    /// Starts from the time of one hash at `cost`.
    public init(seconds: Double, atCost cost: Int) {
        self.init(unitSeconds: seconds / Self.work(cost))
    }

    /// The predicted service time of a job at `cost`.
    public func seconds(forCost cost: Int) -> Double {
        unitSeconds * Self.work(cost)
    }

    /// Takes in one finished job. The first observations weigh more, so that a poor start value
    /// is forgotten quickly.
    public mutating func observe(seconds: Double, atCost cost: Int) {
        guard seconds.isFinite, seconds > 0 else { return }
        let observed = seconds / Self.work(cost)
        let weight = max(smoothing, 1 / Double(samples + 2))
        unitSeconds += weight * (observed - unitSeconds)
        samples += 1
    }

    /// 2^cost.
    static func work(_ cost: Int) -> Double {
        Double(sign: .plus, exponent: cost, significand: 1)
    }
}
