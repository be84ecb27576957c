/// What `fullyloaded up` starts: nginx on a loopback port and a pool of workers behind it.
public struct StackConfiguration: Sendable {
    /// The plain-HTTP port on 127.0.0.1.
    public var httpPort: UInt16 = 8080
    /// Worker processes (one per core by default).
    public var workers: Int
    /// Request threads per worker.
    public var requestThreads: Int = 256
    /// The bcrypt cost of `/api/load` and the default of `/api/hash`.
    public var cost: Int = 12
    /// The lowest cost a request may ask for.
    public var minimumCost: Int = 4
    /// The highest cost a request may ask for, or a verified hash may carry.
    public var maximumCost: Int = 14
    /// Where sockets, logs and the rendered nginx config go; `nil` makes a fresh one under /tmp.
    public var runtimeDirectory: String?
    /// The folder holding `nginx/` (templates, snippets, static files).
    public var shareDirectory: String
    /// The `fullyloaded` binary the workers run.
    public var executable: String
    /// Further options every worker gets (the promise: deadline, slots, …).
    public var workerOptions: [String] = []
    /// The nginx binary.
    public var nginxExecutable: String = "/usr/sbin/nginx"

    /// Creates a configuration with defaults for everything but the paths.
    public init(workers: Int, shareDirectory: String, executable: String) {
        self.workers = workers
        self.shareDirectory = shareDirectory
        self.executable = executable
    }

    /// Connections nginx keeps to the pool (per nginx worker process): a quarter of all request
    /// threads, so that kept connections can never pin every thread.
    var upstreamKeepalive: Int { max(1, workers * requestThreads / 4 / 2) }
}
