/// The worker pool's defaults: every command, renderer and script takes them from here (scripts
/// through `fullyloaded defaults`). Workers and compute slots default to one per core.
public enum PoolDefaults {
    /// Request threads per worker: enough to hold every waiting expensive request of a full
    /// queue and still answer cheap ones at once.
    public static let requestThreads = 512

    /// The compute threads' nice value: the request threads run at 0, so a cheap request never
    /// waits for a hash.
    public static let computeNiceness: Int32 = 10
}
