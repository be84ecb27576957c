import Synchronization

/// How many of a worker's request threads expensive requests may hold, waiting for a slot or
/// held back as paced refusals: the rest are kept for cheap requests, whatever the load.
///
/// Past `limit` an expensive request is refused at once; past `holdLimit` a refusal the budget
/// would hold back is answered at once instead, so that refusals never hoard threads (and
/// nginx's connections) that admitted jobs and pings need.
final class ExpensiveRequestGate: Sendable {
    /// Expensive requests this process handles at once.
    let limit: Int
    /// Refusals this process holds back at once.
    let holdLimit: Int
    private let inside = Atomic<Int>(0)
    private let holding = Atomic<Int>(0)

    init(limit: Int, holdLimit: Int) {
        self.limit = max(1, limit)
        self.holdLimit = max(0, min(holdLimit, limit))
    }

    /// Takes a place for an expensive request; `false` when all are taken.
    func enter() -> Bool {
        if inside.wrappingAdd(1, ordering: .acquiring).newValue <= limit { return true }
        inside.wrappingSubtract(1, ordering: .releasing)
        return false
    }

    /// Gives the place back.
    func leave() {
        inside.wrappingSubtract(1, ordering: .releasing)
    }

    /// Whether a refusal may still be held back (racy by design: it is a hint for the budget).
    var mayHold: Bool { holding.load(ordering: .relaxed) < holdLimit }

    /// Takes a place to hold a refusal; `false` when all are taken.
    func startHolding() -> Bool {
        if holding.wrappingAdd(1, ordering: .acquiring).newValue <= holdLimit { return true }
        holding.wrappingSubtract(1, ordering: .releasing)
        return false
    }

    /// Gives the holding place back.
    func stopHolding() {
        holding.wrappingSubtract(1, ordering: .releasing)
    }
}
