import Admission
import CommandLineOptions
import Foundation
import POSIXSupport

/// What `fullyloaded up` starts: nginx on a loopback port and a pool of workers behind it.
public struct StackConfiguration: Sendable {
    /// The plain-HTTP port on 127.0.0.1.
    public var httpPort: UInt16 = 8080
    /// Whether plain HTTP is served on [::1] too, on the same port.
    public var ipv6Loopback = false
    /// The HTTPS (HTTP/2) port on 127.0.0.1, or `nil` for none.
    public var httpsPort: UInt16? = 8443
    /// Where the self-signed certificate for HTTPS is kept (made on first run).
    public var tlsDirectory = SelfSignedCertificate.defaultDirectory
    /// The pair already read from ``tlsDirectory`` (by root, before it dropped to another user);
    /// `nil` reads it at start.
    public var certificate: SelfSignedCertificate?
    /// Expensive requests per second per client address past a burst of 40, or `nil` for no
    /// limit (the default: the workers' fair share decides who gets the hashing).
    public var rateLimit: Int?
    /// Addresses (or CIDR ranges) whose `Fullyloaded-Client` header nginx passes on: each end
    /// user they name is one client of the fair share. Validated by ``AddressRange``.
    public var trustedProxies: [AddressRange] = []
    /// Networks that may call the hashing routes (`/api/hash`, `/api/verify`, `/api/load`); empty:
    /// everyone. Others get 403 from nginx.
    public var apiNetworks: [AddressRange] = []
    /// The CA (PEM) whose client certificates admit a caller on HTTPS as well, whatever its
    /// network; `nil`: none asked for.
    public var apiClientCertificateAuthority: String?
    /// Whether the page, `/ws` and `/api/stats` are kept to ``apiNetworks`` (and valid client
    /// certificates) too, instead of open to everyone.
    public var privatePages = false
    /// The text of the pepper file (`--pepper-file`), already checked; the workers get a copy of
    /// their own in the runtime directory (0600). `nil`: no pepper.
    public var pepperKeys: String?
    /// Worker processes (one per core by default).
    public var workers: Int
    /// The options every worker of every host gets: the costs, the promise, the request threads.
    /// Each worker's listener, segment, execution, recycling and pepper copy are the stack's to
    /// set, and the architecture may pin its threads to 1.
    public var worker = WorkerOptions.defaults
    /// Request threads per worker, as asked for (``worker``'s).
    public var requestThreads: Int {
        get { worker.threads }
        set { worker.threads = newValue }
    }
    /// The bcrypt cost of `/api/load` and the default of `/api/hash`.
    public var cost: Int { worker.costs.cost }
    /// Where sockets, logs and the rendered nginx config go; `nil` makes a fresh one under /tmp.
    public var runtimeDirectory: String?
    /// The folder holding `nginx/` (templates, snippets, static files).
    public var shareDirectory: String
    /// The `fullyloaded` binary the workers run.
    public var executable: String
    /// The round of the design the stack runs (shown on the dashboard); ``workers`` and
    /// ``requestThreads`` are what was asked for, and the architecture may pin them to 1.
    public var architecture = Architecture.fine
    /// N, in seconds: nginx's FastCGI timeouts are derived from it.
    public var deadline: Double { worker.admission.deadline }
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

    /// nginx worker processes (`worker_processes auto`: one per core).
    var nginxProcesses: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Whether nginx spreads over several hosts, each with its own promise: then a host's
    /// refusal at once is retried on another.
    var isMultiHost: Bool { hosts > 1 || !remoteWorkers.isEmpty }

    /// Worker processes started per host.
    var workerCount: Int { architecture.workers(requested: workers) }

    /// Request threads per worker.
    var threadsPerWorker: Int { architecture.requestThreads(requested: requestThreads) }

    /// How the workers' threads are shared out, and so nginx's numbers.
    var sizing: PoolSizing { PoolSizing(requestThreads: threadsPerWorker, nginxProcesses: nginxProcesses) }

    /// nginx's upstreams, timeouts and retry rules for these workers.
    func upstreams(servers: [SocketEndpoint]) -> NginxUpstreams {
        var upstreams = NginxUpstreams(
            servers: servers, sizing: sizing, deadline: deadline, isMultiHost: isMultiHost)
        upstreams.capsConnections = architecture.capsWorkerConnections
        upstreams.boundsWaitsByDeadline = architecture.boundsWaitsByDeadline
        return upstreams
    }
}
