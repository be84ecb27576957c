import Foundation
import POSIXSupport

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
    /// Hosts to rehearse on this machine: each with its own workers, segment and monitor,
    /// behind the one nginx (1: an ordinary single host).
    public var hosts = 1
    /// Workers on other hosts (TCP) that nginx balances over as well.
    public var remoteWorkers: [SocketEndpoint] = []
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
    /// Several hosts: N plus a quarter second, so that a request caught on a host that was cut
    /// off mid-answer is answered (503, JSON) soon after N rather than a second later.
    var fastCGITimeoutMilliseconds: Int {
        guard architecture.boundsWaitsByDeadline else { return 300_000 }
        return isMultiHost ? Int(deadline * 1000) + 250 : Int((deadline + 1) * 1000)
    }

    /// How long nginx waits to connect to a worker: a second on one host (unix sockets connect
    /// or fail at once); 50 ms to another host, whose silence means it is down or cut off.
    var fastCGIConnectTimeout: String { isMultiHost ? "50ms" : "1s" }

    /// nginx worker processes (`worker_processes auto`: one per core).
    var nginxProcesses: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Whether nginx spreads over several hosts, each with its own promise: then a host's
    /// refusal at once is retried on another.
    var isMultiHost: Bool { hosts > 1 || !remoteWorkers.isEmpty }

    /// How long after a request starts nginx may still pass it to another worker. One host:
    /// 50 ms, for failures right at the start (a worker restarting). Several: a tenth of N, which
    /// the 0.9 headroom leaves free, so a refusal at once can be retried on another host and
    /// its answer still come within N — and always less than N, so a 503 that comes after the
    /// work (a job that overran, answered at N) is never passed on.
    var retryWindowMilliseconds: Int { isMultiHost ? max(1, Int(deadline * 100)) : 50 }

    /// Worker processes started per host.
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
