import POSIXSupport
import Synchronization

/// When a loop last got round, for a watchdog that must not vouch for a process whose work has
/// stopped (its heartbeat stuck on the shared segment's lock, say).
final class ProgressMark: Sendable {
    private let last = Atomic<Int64>(Int64(MonotonicClock.now * 1e9))

    /// The loop got round now.
    func mark() {
        last.store(Int64(MonotonicClock.now * 1e9), ordering: .relaxed)
    }

    /// Whether it got round within the last `seconds`.
    func isRecent(within seconds: Double) -> Bool {
        MonotonicClock.now - Double(last.load(ordering: .relaxed)) / 1e9 <= seconds
    }
}
