import Admission
import Argon2
import Bcrypt
import FastCGI
import Logging
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

/// A FastCGI worker process: request threads answering the password API, stopped by SIGTERM/SIGINT.
public struct WorkerProcess: Sendable {
    private let configuration: WorkerConfiguration
    private let log: Logger

    /// The signals the worker waits for in one place; blocked in every thread.
    static let handledSignals = SignalSet([SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1])

    /// Creates a worker.
    public init(configuration: WorkerConfiguration, log: Logger = Logger(label: "worker")) {
        self.configuration = configuration
        self.log = log
    }

    /// Serves until SIGTERM or SIGINT, lets requests in flight finish, and returns.
    public func run() throws(SystemCallError) {
        try Self.handledSignals.blockInCallingThread()
        let service = PasswordService(configuration: configuration.service, processID: getpid())
        let maximumBody = configuration.service.maximumBodyBytes
        let admission = try configuration.admission.map { settings throws(SystemCallError) in
            try startAdmission(settings)
        }
        // Listen only when ready to serve: until then nginx's connects fail at once and go to
        // another worker, instead of waiting in this one's queue while it measures and attaches.
        let listener: FileDescriptor
        switch configuration.listen {
        case .endpoint(let endpoint):
            listener = try endpoint.listen(backlog: configuration.backlog, unixPermissions: configuration.socketMode)
        case .inheritedDescriptor(let descriptor):
            listener = FileDescriptor(adopting: descriptor)
        }
        let statsCache: StatsCache
        if let admission {
            let cost = configuration.service.defaultCost
            statsCache = StatsCache { admission.controller.snapshot(predictionCost: cost).statsBody.bytes }
        } else {
            statsCache = StatsCache { Array(#"{"admission":false}"#.utf8) }
        }
        let stats: @Sendable () -> [UInt8] = { statsCache.body() }
        // A socket from systemd outlives this process and goes to the next one: stop accepting
        // without shutting it down. Our own socket is shut down, so nginx goes elsewhere at once.
        let stopMode: FastCGIServer.StopMode =
            if case .inheritedDescriptor = configuration.listen { .interruptAcceptingThreads } else {
                .shutDownListener
            }
        let sizing = PoolSizing(requestThreads: configuration.requestThreads, nginxProcesses: 1)
        let expensive = configuration.expensiveRequestThreads ?? sizing.expensiveRequests
        let gate = ExpensiveRequestGate(
            limit: expensive, holdLimit: PoolSizing.heldRefusals(expensiveRequests: expensive))
        // Anyone who reaches a TCP port could speak raw FastCGI, past nginx's limits: only the
        // front's addresses are served.
        let isTCP = AddressRange.localAddress(ofSocket: listener.rawValue) != nil
        let peerLog = RefusalLog(log: log)
        let reportPeer: @Sendable (String) -> Void = { peer in peerLog.recordForeignPeer(peer) }
        let invalidLog = RefusalLog(log: log)
        let reportInvalid: @Sendable (String) -> Void = { reason in invalidLog.recordInvalidRequest(reason) }
        // Connections that have not sent their request wait without a thread, each on a
        // descriptor: as many as the descriptor limit leaves beside the threads' own.
        let descriptors = (try? ResourceLimits.raiseOpenFilesToHardLimit()) ?? 1024
        let gateLimits = ConnectionGateLimits(
            capacity: min(4096, descriptors - configuration.requestThreads - 256))
        let server = try FastCGIServer(
            listener: listener, threadCount: configuration.requestThreads, parkedThreads: sizing.pinnedThreads,
            stopMode: stopMode, gateLimits: gateLimits,
            allowedPeers: isTCP ? configuration.allowedPeers : nil, onRefusedPeer: reportPeer,
            onInvalidRequest: reportInvalid
        ) {
            let threadRunner = admission?.makeRunner(gate: gate) ?? InlineJobRunner()
            return { request in
                let method = request.parameter("REQUEST_METHOD") ?? "GET"
                let path = Self.path(ofURI: request.parameter("REQUEST_URI") ?? "/")
                if PasswordService.isPing(
                    method: method, path: path, contentLength: request.parameter("CONTENT_LENGTH"))
                {
                    admission?.controller.countPing()
                    request.write(service.pingResponseBytes)
                    return
                }
                var body = request.readBody(keepingAtMost: maximumBody)
                request.wipeInputBuffer()
                var apiRequest = APIRequest(
                    method: method, path: path, body: body.bytes, bodyLength: body.totalLength,
                    arrivedAt: ArrivalTime.monotonic(fromWallClock: request.parameter(ArrivalTime.parameterName)),
                    contentType: request.parameter("CONTENT_TYPE"),
                    client: RequestClient(
                        remoteAddress: request.parameter("REMOTE_ADDR"),
                        namedClient: request.parameter(Self.namedClientParameter)))
                let response = service.respond(to: apiRequest, runner: threadRunner, stats: stats)
                // The body held the password in the clear; the request shares its storage.
                apiRequest.body = []
                body.bytes.wipe()
                request.write(response.cgiBytes)
            }
        }
        try server.start()
        log.info(
            "ready",
            metadata: [
                "listen": "\(configuration.listen)", "threads": .stringConvertible(configuration.requestThreads),
            ])
        do {
            try SystemdActivation.notify("READY=1\nSTATUS=serving\nMAINPID=\(getpid())")
        } catch {
            // Serving matters more than telling: a manager that cannot be told will time us out.
            log.warning("notify failed", metadata: ["error": "\(error.description)"])
        }
        if let interval = SystemdActivation.watchdogPingInterval {
            // systemd restarts a worker that stops beating (WatchdogSec=): one that hangs whole,
            // or whose heartbeat has not got the shared segment's lock for a whole interval.
            let progress = admission?.progress
            try PlatformThread.startDetached(name: "watchdog") {
                while true {
                    if progress?.isRecent(within: max(interval, 1)) ?? true {
                        _ = try? SystemdActivation.notify("WATCHDOG=1")
                    }
                    usleep(UInt32(interval * 1_000_000))
                }
            }
        }

        var reason = "signal"
        var askedParentAt = -Double.infinity
        while true {
            let signal = Self.handledSignals.wait(timeout: 0.1)
            if signal == SIGTERM || signal == SIGINT { break }
            if let limit = configuration.maximumRequests, server.requestsServed >= limit {
                guard configuration.recycleByParent else {
                    reason = "max_requests"
                    break
                }
                // Asked again each second: signals from two workers at once merge into one.
                if MonotonicClock.now - askedParentAt >= 1 {
                    log.info("asking to be replaced", metadata: ["served": .stringConvertible(server.requestsServed)])
                    kill(getppid(), SIGUSR1)
                    askedParentAt = MonotonicClock.now
                }
            }
        }
        log.info(
            "stopping",
            metadata: [
                "reason": "\(reason)", "in_flight": .stringConvertible(server.requestsInFlight),
                "served": .stringConvertible(server.requestsServed),
            ])
        _ = try? SystemdActivation.notify("STOPPING=1")
        let drained = server.stop(grace: configuration.shutdownGrace)
        // No heartbeat after the entry is given up: nobody would mark this worker alive again.
        admission?.heartbeat.stop()
        admission?.controller.unregister()
        if case .endpoint(.unix(let path)) = configuration.listen {
            // The worker made the socket file; nothing else will remove it.
            unlink(path)
        }
        log.info("stopped", metadata: ["drained": .stringConvertible(drained)])
    }

    private struct RunningAdmission: Sendable {
        /// Where bcrypt runs, with the compute threads the execution needs.
        enum Compute: Sendable {
            /// Admission control and compute threads at the configured niceness.
            case admission(ComputePool)
            /// Compute threads at niceness 0, an unbounded queue, no admission.
            case background(ComputePool)
            /// On the request thread.
            case inline
        }

        let controller: AdmissionController
        /// When the heartbeat last got through the segment's lock.
        let progress: ProgressMark
        /// Marks this worker alive and sweeps dead workers' jobs, a few times a second.
        let heartbeat: PeriodicThread
        let compute: Compute
        let refusals: RefusalLog

        /// The runner of one request thread; every execution counts its jobs in the segment.
        func makeRunner(gate: ExpensiveRequestGate) -> any ExpensiveJobRunner {
            switch compute {
            case .admission(let pool):
                AdmissionJobRunner(controller: controller, pool: pool, refusals: refusals, gate: gate)
            case .background(let pool): BackgroundJobRunner(controller: controller, pool: pool)
            case .inline: InlineAccountedJobRunner(controller: controller)
            }
        }
    }

    private func startAdmission(_ settings: AdmissionSettings) throws(SystemCallError) -> RunningAdmission {
        let estimate: ServiceTimeEstimate
        if let seconds = settings.initialEstimateSeconds {
            estimate = ServiceTimeEstimate(seconds: seconds, atCost: settings.estimateCost)
        } else {
            // Before any job has run, predict from a measurement of this machine: three hashes at
            // cost 8 (about 50 ms), scaled by the doubling per cost step.
            let times = ((try? BcryptHasher().measureServiceTimes(cost: 8, samples: 3)) ?? []).sorted()
            estimate = ServiceTimeEstimate(seconds: times.isEmpty ? 0.016 : times[times.count / 2], atCost: 8)
        }
        // argon2id's seconds per KiB and pass, until argon2id jobs have taught the segment their
        // own: one small hash (1 MiB, one pass: about 2 ms, so a restarting worker serves as soon
        // as before). Per KiB it runs slower than a full-size hash (its pages are new), so the
        // first argon2id jobs are predicted long, on the safe side, and the estimate learns.
        let argon2 = configuration.service.argon2
        let probe = Argon2Parameters(memoryKiB: min(argon2.memoryKiB, 1024), passes: 1, lanes: argon2.lanes)
        let probeStarted = MonotonicClock.now
        let probed = (try? Argon2Hasher.hash(password: Array("calibration".utf8), parameters: probe)) != nil
        let argon2Unit = probed ? max(MonotonicClock.now - probeStarted, 1e-6) / probe.work : 1e-8
        let shortest = estimate.seconds(forCost: configuration.service.verifiableCosts.lowerBound)
        let segment = try SharedSegment(
            path: settings.segmentPath, slots: settings.computeSlots, deadline: settings.deadline,
            initialEstimate: estimate,
            jobCapacity: SharedSegment.jobCapacity(
                slots: settings.computeSlots, deadline: settings.deadline, shortestServiceSeconds: shortest),
            lanes: settings.lanes, memoryBudgetKiB: settings.memoryBudgetKiB, argon2UnitSeconds: argon2Unit)
        switch segment.outcome {
        case .created: log.info("segment created", metadata: ["path": "\(settings.segmentPath)"])
        case .attached: log.info("segment attached", metadata: ["path": "\(settings.segmentPath)"])
        case .replaced(let reason):
            log.info("segment replaced", metadata: ["path": "\(settings.segmentPath)", "reason": "\(reason)"])
        }
        let controller = AdmissionController(
            segment: segment,
            policy: AdmissionPolicy(
                deadline: settings.deadline, headroom: settings.headroom, refusalRate: settings.refusalRate,
                fairness: settings.fairness, lanes: settings.lanes))
        controller.register()
        let log = self.log
        let compute: RunningAdmission.Compute =
            switch configuration.execution {
            case .admission:
                .admission(
                    try ComputePool(threads: settings.computeSlots, niceness: settings.computeNiceness, log: log))
            case .background: .background(try ComputePool(threads: settings.computeSlots, niceness: 0, log: log))
            case .inline: .inline
            }
        let progress = ProgressMark()
        // Five times a second: the jobs of a worker killed outright are freed within a fraction
        // of a second. Started last, so that nothing after it can fail and leave it running.
        let heartbeat = try PeriodicThread(name: "heartbeat", interval: 0.2) {
            let freed = controller.heartbeatAndSweep()
            progress.mark()
            if freed > 0 { log.info("freed jobs of a dead worker", metadata: ["jobs": .stringConvertible(freed)]) }
        }
        return RunningAdmission(
            controller: controller, progress: progress, heartbeat: heartbeat, compute: compute,
            refusals: RefusalLog(log: log))
    }

    /// The FastCGI parameter nginx sets to the end user a trusted proxy named
    /// (`Fullyloaded-Client`), empty for everyone else.
    public static let namedClientParameter = "FULLYLOADED_CLIENT"

    static func path(ofURI uri: String) -> String {
        if let query = uri.firstIndex(of: "?") { return String(uri[..<query]) }
        return uri
    }
}
