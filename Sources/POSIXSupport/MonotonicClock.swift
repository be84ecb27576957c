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
