import Worker

/// The four rounds of the design, from one that works terribly to one that works, on one
/// code base: how many workers, how many request threads, where bcrypt runs, and whether nginx
/// caps the connections to each worker.
public enum Architecture: String, Sendable, CaseIterable {
    /// One worker, one request thread, bcrypt inline: a hash blocks everything, pings included.
    case sync
    /// One worker; bcrypt handed to a pool of threads (one per core), no admission: the process
    /// stays responsive, but the queue grows without bound.
    case async
    /// One single-threaded worker per core, nginx spreading requests: every core busy, but a
    /// cheap request can land behind a hash.
    case coarse
    /// The full design: admission control, shared compute slots, compute below request priority.
    case fine

    /// Worker processes, given the `--workers` asked for (one per core by default).
    public func workers(requested: Int) -> Int {
        switch self {
        case .sync, .async: 1
        case .coarse, .fine: requested
        }
    }

    /// Request threads per worker, given the `--threads` asked for.
    public func requestThreads(requested: Int) -> Int {
        switch self {
        case .sync, .coarse: 1
        case .async, .fine: requested
        }
    }

    /// The worker's `--execution`.
    public var execution: WorkerConfiguration.Execution {
        switch self {
        case .sync, .coarse: .inline
        case .async: .background
        case .fine: .admission
        }
    }

    /// Whether nginx caps connections per worker (`max_conns`) and answers 503 itself past it.
    /// The earlier rounds leave requests to queue in the workers' sockets, as they were built.
    public var capsWorkerConnections: Bool { self == .fine }

    /// Whether nginx's FastCGI timeouts follow N. The earlier rounds make no promise, and get
    /// the generous timeouts of a usual deployment (as the PHP-FPM reference does): their
    /// queues show as they are, not cut short by nginx.
    public var boundsWaitsByDeadline: Bool { self == .fine }
}
