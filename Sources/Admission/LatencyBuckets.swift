/// The upper bounds, in milliseconds, of the shared latency histograms' buckets; the last is +inf.
public enum LatencyBuckets {
    /// Bucket bounds in milliseconds (16 buckets, the last unbounded).
    public static let boundsMilliseconds: [Double] = [
        1, 2, 5, 10, 20, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 5000, .infinity,
    ]

    /// The bucket a duration falls in.
    public static func index(forSeconds seconds: Double) -> Int {
        let milliseconds = seconds * 1000
        return boundsMilliseconds.firstIndex { milliseconds <= $0 } ?? boundsMilliseconds.count - 1
    }
}
