import Foundation

/// What `fullyloaded up` starts: nginx on a loopback port and a pool of workers behind it.
public struct StackConfiguration: Sendable {
    /// The plain-HTTP port on 127.0.0.1.
    public var httpPort: UInt16 = 8080
    /// The HTTPS (HTTP/2) port on 127.0.0.1, or `nil` for none.
    public var httpsPort: UInt16? = 8443
    /// Where the self-signed certificate for HTTPS is kept (made on first run).
    public var tlsDirectory = SelfSignedCertificate.defaultDirectory
    /// Expensive requests per second per client address past a burst of 10, or `nil` for no
    /// limit (the default, so that `ab` from one address measures the pool).
    public var rateLimit: Int?
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
    /// The round of the design the stack runs (shown on the dashboard); ``workers`` and
    /// ``requestThreads`` are what was asked for, and the architecture may pin them to 1.
    public var architecture = Architecture.fine
    /// N, in seconds: nginx's FastCGI timeouts are derived from it.
    public var deadline: Double = 2
    /// Workers exit after about this many requests and are replaced at once; `nil`: never.
    public var maximumRequests: Int?
    /// The nginx binary.
    public var nginxExecutable: String = "/usr/sbin/nginx"

    /// Creates a configuration with defaults for everything but the paths.
    public init(workers: Int, shareDirectory: String, executable: String) {
        self.workers = workers
        self.shareDirectory = shareDirectory
        self.executable = executable
    }

    /// How long nginx waits on a worker: N plus a second for a worker that stopped answering,
    /// after which nginx answers the JSON 503 itself.
    var fastCGITimeoutMilliseconds: Int { architecture.boundsWaitsByDeadline ? Int((deadline + 1) * 1000) : 300_000 }

    /// nginx worker processes (`worker_processes auto`: one per core).
    var nginxProcesses: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Worker processes started.
    var workerCount: Int { architecture.workers(requested: workers) }

    /// Request threads per worker.
    var threadsPerWorker: Int { architecture.requestThreads(requested: requestThreads) }

    /// Idle connections each nginx process keeps to the pool, or `nil` for none. Each pins a
    /// worker request thread: a single-threaded worker can keep none, or one kept connection
    /// would shut every other out.
    var upstreamKeepalive: Int? { threadsPerWorker >= 16 ? threadsPerWorker / 8 : nil }

    /// Active connections nginx may hold to one worker: its threads, less what idle kept
    /// connections may pin, less a margin. Past it nginx answers 503 at once itself, rather
    /// than leave requests in a worker's listen queue where admission cannot see them.
    var upstreamMaximumConnections: Int? {
        guard architecture.capsWorkerConnections else { return nil }
        return max(1, threadsPerWorker - (upstreamKeepalive ?? 0) * nginxProcesses - 4)
    }
}
