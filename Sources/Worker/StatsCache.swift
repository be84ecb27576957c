import POSIXSupport
import Synchronization

/// The body of `/api/stats`, made at most once per `maximumAge` per worker.
///
/// A snapshot takes the segment's lock that admission uses; the route is public, so its cost
/// must not grow with how often anyone asks: a crowd polling it gets the same bytes.
final class StatsCache: Sendable {
    private struct Entry {
        var madeAt = -Double.infinity
        var body: [UInt8] = []
    }

    /// How stale `/api/stats` may be: ten snapshots a second per worker, however many ask.
    static let defaultMaximumAge = 0.1

    private let maximumAge: Double
    private let make: @Sendable () -> [UInt8]
    private let entry = Mutex(Entry())

    init(maximumAge: Double = StatsCache.defaultMaximumAge, make: @escaping @Sendable () -> [UInt8]) {
        self.maximumAge = maximumAge
        self.make = make
    }

    /// The cached body, or a fresh one when the cached one is `maximumAge` old.
    func body(now: Double = MonotonicClock.now) -> [UInt8] {
        entry.withLock { entry in
            if now - entry.madeAt >= maximumAge {
                entry = Entry(madeAt: now, body: make())
            }
            return entry.body
        }
    }
}
