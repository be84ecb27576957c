#if canImport(Glibc)
    import Glibc
#endif

extension BcryptLanes {
    /// Times `samples` batches of `lanes` hashes at `cost` on the calling thread and returns
    /// their durations in seconds, sorted: a batch's service time.
    public static func measureBatchTimes(lanes: Int, cost: Int, samples: Int) throws(BcryptError) -> [Double] {
        let jobs = try (0..<lanes).map { index throws(BcryptError) in
            Job(password: Array("calibration \(index)".utf8), salt: try SecureRandom.bytes(16))
        }
        var durations: [Double] = []
        for _ in 0..<max(1, samples) {
            var start = timespec()
            var end = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            _ = try hash(jobs, cost: cost)
            clock_gettime(CLOCK_MONOTONIC, &end)
            durations.append(Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9)
        }
        return durations.sorted()
    }
}
