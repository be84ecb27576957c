/// When a worker that serves a limited number of requests (`--max-requests`) leaves: a value
/// the worker's wait loop asks a few times a second, tested on a made-up clock.
struct Recycling: Sendable {
    /// What the worker does now.
    enum Action: Equatable, Sendable {
        /// Go on serving.
        case serve
        /// Ask the parent (SIGUSR1) to replace this worker, and go on serving until it says stop.
        case askParent
        /// Stop as on SIGTERM: the supervisor starts a fresh one.
        case stop
    }

    /// Requests after which the worker leaves; `nil`: never.
    let limit: Int?
    /// Whether the parent replaces the worker (`up`, one at a time) rather than it exiting.
    let byParent: Bool
    private var askedParentAt = -Double.infinity

    init(limit: Int?, byParent: Bool) {
        self.limit = limit
        self.byParent = byParent
    }

    /// The action after `served` requests, at monotonic time `now`.
    mutating func action(served: Int, now: Double) -> Action {
        guard let limit, served >= limit else { return .serve }
        guard byParent else { return .stop }
        // Asked again each second: signals from two workers at once merge into one.
        guard now - askedParentAt >= 1 else { return .serve }
        askedParentAt = now
        return .askParent
    }
}
