#if canImport(Glibc)
    import Glibc
#endif

/// Seconds on the monotonic clock, as a `Double`: cheap to read, never jumps with wall-clock changes.
public enum MonotonicClock {
    /// The current monotonic time in seconds.
    @inline(__always)
    public static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
    }
}

/// When nginx received a request, as it tells the worker: `$msec` (wall-clock seconds with
/// milliseconds, e.g. `1764576000.123`) in a FastCGI parameter, turned into monotonic seconds.
///
/// The wall clock is the one clock nginx and the workers of a host share; the conversion is
/// done at once so that everything after it is immune to clock steps. A time in the future
/// (clocks of two hosts apart) counts as now; one that cannot be read is ignored.
public enum ArrivalTime {
    /// The FastCGI parameter nginx sets (`fastcgi_param FULLYLOADED_ARRIVAL $msec;`).
    public static let parameterName = "FULLYLOADED_ARRIVAL"

    /// The monotonic time of an arrival given as `$msec`, or `nil` when `text` is no such time.
    public static func monotonic(fromWallClock text: String?, monotonicNow: Double = MonotonicClock.now) -> Double? {
        guard let text, text.utf8.count <= 24, let wall = Double(text), wall.isFinite, wall > 0 else { return nil }
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let wallNow = Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000
        return monotonicNow - max(0, wallNow - wall)
    }
}
