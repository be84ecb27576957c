#if canImport(Glibc)
    import Glibc
#endif

extension BcryptHasher {
    /// Times `samples` hashes at `cost` on the calling thread and returns their durations in seconds,
    /// sorted: the single-core service time that capacity (`cores / time`) and predictions start from.
    public func measureServiceTimes(cost: Int, samples: Int) throws(BcryptError) -> [Double] {
        var durations: [Double] = []
        for _ in 0..<max(1, samples) {
            var start = timespec()
            var end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            _ = try hash(password: "calibration", cost: cost)
            clock_gettime(CLOCK_MONOTONIC, &end)
            durations.append(Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9)
        }
        return durations.sorted()
    }
}
