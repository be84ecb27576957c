import Admission
import POSIXSupport
import PasswordService
import ServiceDefaults

#if canImport(Glibc)
    import Glibc
#endif

/// Everything one worker process needs to know.
public struct WorkerConfiguration: Sendable {
    /// Where bcrypt runs: the four rounds of the design, on one code base.
    public enum Execution: String, Sendable, CaseIterable {
        /// Admission control, a shared queue of compute slots, low-priority compute threads:
        /// the full design.
        case admission
        /// On the request thread, no queue, no admission (the `sync` and `coarse` rounds).
        case inline
        /// Handed to a pool of compute threads at normal priority with an unbounded queue and
        /// no admission (the `async` round).
        case background
    }

    /// Where the worker listens for nginx.
    public enum Listen: Sendable, Equatable {
        /// Open a socket here.
        case endpoint(SocketEndpoint)
        /// Use a listening socket inherited at this descriptor (socket activation).
        case inheritedDescriptor(Int32)
    }

    /// Where to listen.
    public var listen: Listen
    /// Request threads: one per request being served.
    public var requestThreads: Int
    /// Request threads expensive requests may hold at once (the rest are the cheap routes');
    /// `nil`: ``PoolSizing/expensiveRequests``.
    public var expensiveRequestThreads: Int?
    /// The listen queue length.
    public var backlog: Int32
    /// The mode of a unix socket the worker makes: only its own user (nginx runs as the same
    /// user under `up`) unless told otherwise; anyone who may connect can speak raw FastCGI.
    public var socketMode: mode_t = 0o600
    /// On a TCP socket, the only peers served (the front's addresses); others' connections are
    /// closed unanswered. Unix sockets are guarded by their mode instead.
    public var allowedPeers: [AddressRange] = AddressRange.loopback
    /// The API's limits and defaults.
    public var service: PasswordServiceConfiguration
    /// How long a stopping worker waits for requests in flight.
    public var shutdownGrace: Double
    /// The host's shared segment and the N-second promise; `nil` runs bcrypt inline with no
    /// segment at all.
    public var admission: AdmissionSettings?
    /// Where bcrypt runs; with a segment, every execution is counted in it for the dashboard.
    public var execution = Execution.admission
    /// After this many requests the worker stops as on SIGTERM and exits 0, for its
    /// supervisor to start a fresh one; `nil` serves until told to stop.
    public var maximumRequests: Int?
    /// At ``maximumRequests``, ask the parent to replace this worker (SIGUSR1) and keep serving
    /// until it sends SIGTERM, instead of exiting: `up` then replaces workers one at a time.
    public var recycleByParent = false

    /// Creates a configuration.
    public init(
        listen: Listen, requestThreads: Int = PoolDefaults.requestThreads, backlog: Int32 = 4096,
        service: PasswordServiceConfiguration = .init(), shutdownGrace: Double = 10,
        admission: AdmissionSettings? = nil
    ) {
        self.listen = listen
        self.requestThreads = requestThreads
        self.backlog = backlog
        self.service = service
        self.shutdownGrace = shutdownGrace
        self.admission = admission
    }
}

/// How a worker keeps the N-second promise with the other workers of its host.
public struct AdmissionSettings: Sendable {
    /// The shared segment's file (one per host, or per `fullyloaded up`).
    public var segmentPath: String
    /// Compute slots shared by all workers of the host (default: cores).
    public var computeSlots: Int
    /// N, in seconds.
    public var deadline: Double
    /// Admit only jobs predicted to finish within this fraction of N.
    public var headroom: Double
    /// Seconds of one hash at ``estimateCost`` to start predicting from; `nil` measures it at start.
    public var initialEstimateSeconds: Double?
    /// The cost ``initialEstimateSeconds`` is for.
    public var estimateCost: Int
    /// The nice value of the compute threads (request threads run at 0).
    public var computeNiceness: Int32
    /// Refusals per second answered at once, host-wide (per client with fairness on); more are
    /// paced (0: no pacing).
    public var refusalRate: Double
    /// Whether a full queue is shared fairly among clients.
    public var fairness: Bool
    /// The most waiting jobs of this process at one cost that one slot hashes together (1: none).
    public var lanes: Int
    /// The most memory running jobs of the host may hold together, in KiB (0: no bound).
    public var memoryBudgetKiB: Int

    /// Creates settings.
    public init(
        segmentPath: String, computeSlots: Int, deadline: Double, headroom: Double = PromiseDefaults.headroom,
        initialEstimateSeconds: Double? = nil, estimateCost: Int = HashDefaults.cost,
        computeNiceness: Int32 = PoolDefaults.computeNiceness,
        refusalRate: Double = 0, fairness: Bool = true, lanes: Int = 1, memoryBudgetKiB: Int = 0
    ) {
        self.memoryBudgetKiB = memoryBudgetKiB
        self.fairness = fairness
        self.lanes = lanes
        self.segmentPath = segmentPath
        self.computeSlots = computeSlots
        self.deadline = deadline
        self.headroom = headroom
        self.initialEstimateSeconds = initialEstimateSeconds
        self.estimateCost = estimateCost
        self.computeNiceness = computeNiceness
        self.refusalRate = refusalRate
    }
}
