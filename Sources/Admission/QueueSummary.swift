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
