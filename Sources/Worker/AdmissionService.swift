import Admission
import Argon2
import Bcrypt
import Logging
import POSIXSupport
import PasswordService

/// The worker's part in the host's N-second promise: the shared segment, the admission
/// controller, the compute threads and the heartbeat that marks the worker alive.
struct AdmissionService: WorkerService, Sendable {
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

    /// Opens or attaches to the segment, registers the worker and starts its compute threads
    /// and heartbeat.
    init(settings: AdmissionSettings, configuration: WorkerConfiguration, log: Logger) throws(SystemCallError) {
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
        let compute: Compute
        let progress = ProgressMark()
        let heartbeat: PeriodicThread
        do throws(SystemCallError) {
            compute =
                switch configuration.execution {
                case .admission:
                    .admission(
                        try ComputePool(threads: settings.computeSlots, niceness: settings.computeNiceness, log: log))
                case .background: .background(try ComputePool(threads: settings.computeSlots, niceness: 0, log: log))
                case .inline: .inline
                }
            // Five times a second: the jobs of a worker killed outright are freed within a
            // fraction of a second. Started last, so that nothing after it can fail and leave it
            // running.
            heartbeat = try PeriodicThread(name: "heartbeat", interval: 0.2) {
                let freed = controller.heartbeatAndSweep()
                progress.mark()
                if freed > 0 { log.info("freed jobs of a dead worker", metadata: ["jobs": .stringConvertible(freed)]) }
            }
        } catch {
            // A worker that cannot serve leaves no entry behind for the others to sweep.
            controller.unregister()
            throw error
        }
        self.controller = controller
        self.progress = progress
        self.heartbeat = heartbeat
        self.compute = compute
        refusals = RefusalLog(log: log)
    }

    /// The compute threads end first, while the heartbeat still marks the worker alive (a job
    /// that overran holds its slot until it ends); no heartbeat after the entry is given up:
    /// nobody would mark this worker alive again.
    func stop() {
        switch compute {
        case .admission(let pool), .background(let pool): _ = pool.stop(waitingAtMost: Self.computeStopSeconds)
        case .inline: break
        }
        heartbeat.stop()
        controller.unregister()
    }

    /// The longest a stopping worker waits for jobs that overran N to end (a hash at the default
    /// policy takes a fraction of it); past it the process exits and the hash ends with it. With
    /// the listener's grace it stays within the worker unit's `TimeoutStopSec`.
    static let computeStopSeconds = 4.0
}
