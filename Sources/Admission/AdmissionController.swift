import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The N-second promise across processes: admits or refuses expensive jobs, hands out compute
/// slots in arrival order, and refuses at the deadline a job that could no longer finish in time.
///
/// All state lives in the shared segment, so every worker of the host sees one queue.
public final class AdmissionController: @unchecked Sendable {
    /// A job admitted to the queue.
    public struct Ticket: Sendable, Equatable {
        let index: UInt32
        let ticket: UInt64
        /// The job's cost.
        public let cost: Int
        /// When it was admitted (monotonic seconds).
        public let admittedAt: Double
        /// The prediction it was admitted with.
        public let prediction: AdmissionPredictor.Prediction
    }

    /// The answer to an arriving job.
    public enum Admission: Sendable, Equatable {
        case admitted(Ticket)
        /// Refused; answer at `answerAt` (monotonic seconds), later than now only when the
        /// refusal budget is spent.
        case refused(prediction: AdmissionPredictor.Prediction, retryAfterSeconds: Int, answerAt: Double)
    }

    /// The answer to a job waiting for a slot.
    public enum SlotOutcome: Sendable, Equatable {
        case granted
        /// It could not have started in time to finish within N: refused without running.
        case refusedAtDeadline(retryAfterSeconds: Int)
    }

    /// The segment the controller works on.
    public let segment: SharedSegment
    /// N and the headroom.
    public let policy: AdmissionPolicy
    private let processID: Int32

    /// Creates a controller on `segment` acting for `processID` (this process by default; tests
    /// act for others).
    public init(segment: SharedSegment, policy: AdmissionPolicy, processID: Int32 = getpid()) {
        self.segment = segment
        self.policy = policy
        self.processID = processID
    }

    // MARK: - Jobs

    /// Decides at once: admits the job to the global queue, or refuses it with a prediction.
    public func admit(cost: Int, now: Double = MonotonicClock.now) -> Admission {
        segment.withLock { shared in
            let (predictor, running, queued) = Self.view(of: &shared, now: now)
            let prediction = predictor.predict(running: running, queued: queued, newCost: cost)
            let service = predictor.estimate.seconds(forCost: cost)
            if case .refuse(let retryAfter) = policy.decide(prediction, serviceSeconds: service) {
                return refuse(&shared, prediction: prediction, retryAfter: retryAfter, now: now)
            }
            guard
                let index = (0..<FL_MAX_JOBS).first(where: {
                    fl_segment_job(&shared, $0).pointee.state == FL_JOB_FREE.rawValue
                })
            else {
                return refuse(&shared, prediction: prediction, retryAfter: 1, now: now)
            }
            let ticket = shared.next_ticket
            shared.next_ticket += 1
            shared.admitted += 1
            let job = fl_segment_job(&shared, index)
            job.pointee = fl_job(
                state: FL_JOB_QUEUED.rawValue, pid: processID, ticket: ticket, cost: UInt32(cost), reserved: 0,
                admitted_ns: Self.nanoseconds(now), started_ns: 0, deadline_ns: Self.nanoseconds(now + policy.deadline))
            return .admitted(Ticket(index: index, ticket: ticket, cost: cost, admittedAt: now, prediction: prediction))
        }
    }

    private func refuse(
        _ shared: inout fl_segment, prediction: AdmissionPredictor.Prediction, retryAfter: Int, now: Double
    ) -> Admission {
        shared.refused_at_once += 1
        Self.countRefusal(&shared, pid: processID)
        let paced = policy.paceRefusal(now: now, theoreticalArrival: Double(shared.refusal_tat_ns) / 1e9)
        shared.refusal_tat_ns = Self.nanoseconds(paced.newTAT)
        if paced.answerAt > now { shared.paced_refusals += 1 }
        return .refused(prediction: prediction, retryAfterSeconds: retryAfter, answerAt: paced.answerAt)
    }

    /// Blocks until the job may take a compute slot (all earlier jobs have one, and one is free),
    /// or until it is too late to start: then it leaves the queue, refused.
    public func waitForSlot(_ ticket: Ticket) -> SlotOutcome {
        while true {
            let now = MonotonicClock.now
            let generation = fl_load_acquire(segment.generation)
            let step: (outcome: SlotOutcome?, sleep: Double) = segment.withLock { shared in
                let job = fl_segment_job(&shared, ticket.index)
                guard job.pointee.ticket == ticket.ticket, job.pointee.state == FL_JOB_QUEUED.rawValue else {
                    // Swept as if this process had died; it has not, so it is too late to run.
                    return (.refusedAtDeadline(retryAfterSeconds: 1), 0)
                }
                var running = 0
                var earlier = 0
                for index in 0..<FL_MAX_JOBS {
                    let other = fl_segment_job(&shared, index).pointee
                    if other.state == FL_JOB_RUNNING.rawValue { running += 1 }
                    if other.state == FL_JOB_QUEUED.rawValue && other.ticket < ticket.ticket { earlier += 1 }
                }
                let unit = shared.unit_seconds
                let latestStart =
                    ticket.admittedAt + policy.latestStart(serviceSeconds: unit * ServiceTimeEstimate.work(ticket.cost))
                if running + earlier < Int(shared.slots) {
                    job.pointee.state = FL_JOB_RUNNING.rawValue
                    job.pointee.started_ns = Self.nanoseconds(now)
                    Self.record(&shared.queue_wait, seconds: now - ticket.admittedAt)
                    let recent = fl_segment_recent_wait(&shared, shared.recent_next)
                    recent.pointee = fl_recent_wait(
                        at_ns: Self.nanoseconds(now), wait_ns: Self.nanoseconds(now - ticket.admittedAt))
                    shared.recent_next &+= 1
                    return (.granted, 0)
                }
                if now >= latestStart {
                    job.pointee.state = FL_JOB_FREE.rawValue
                    shared.refused_at_deadline += 1
                    Self.countRefusal(&shared, pid: processID)
                    let (predictor, running, queued) = Self.view(of: &shared, now: now)
                    let prediction = predictor.predict(running: running, queued: queued, newCost: ticket.cost)
                    let retry = policy.decide(
                        prediction, serviceSeconds: predictor.estimate.seconds(forCost: ticket.cost))
                    if case .refuse(let seconds) = retry { return (.refusedAtDeadline(retryAfterSeconds: seconds), 0) }
                    return (.refusedAtDeadline(retryAfterSeconds: 1), 0)
                }
                return (nil, latestStart - now)
            }
            if let outcome = step.outcome {
                if case .refusedAtDeadline = outcome { wakeWaiters() }
                return outcome
            }
            // Woken when any job ends or leaves; the timeout is the job's latest start, capped
            // so that a missed wake-up costs at most 50 ms.
            _ = fl_futex_wait(segment.generation, generation, Int64(min(step.sleep, 0.05) * 1e9))
        }
    }

    /// How a job that held a slot ended.
    public enum JobOutcome: Sendable, Equatable {
        /// Its answer went out in time.
        case delivered
        /// bcrypt refused or failed.
        case failed
        /// Its deadline passed while it ran: the client was answered 503 at N and the result dropped.
        case overran
    }

    /// Ends a job that ran: frees its slot, records its times and teaches the estimate.
    public func finish(_ ticket: Ticket, serviceSeconds: Double, outcome: JobOutcome, now: Double = MonotonicClock.now)
    {
        segment.withLock { shared in
            let job = fl_segment_job(&shared, ticket.index)
            guard job.pointee.ticket == ticket.ticket, job.pointee.state != FL_JOB_FREE.rawValue else { return }
            job.pointee.state = FL_JOB_FREE.rawValue
            switch outcome {
            case .delivered: shared.completed += 1
            case .failed: shared.failed += 1
            case .overran: shared.overran += 1
            }
            if outcome != .failed {
                // An overrun teaches the most: the machine is slower than the estimate says.
                var estimate = ServiceTimeEstimate(
                    unitSeconds: shared.unit_seconds, samples: Int(shared.estimate_samples))
                estimate.observe(seconds: serviceSeconds, atCost: ticket.cost)
                shared.unit_seconds = estimate.unitSeconds
                shared.estimate_samples = UInt64(estimate.samples)
            }
            Self.record(&shared.service_time, seconds: serviceSeconds)
            if outcome != .overran { Self.record(&shared.response_time, seconds: now - ticket.admittedAt) }
            if let worker = Self.workerEntry(&shared, pid: processID) { worker.pointee.jobs_completed += 1 }
        }
        wakeWaiters()
    }

    /// Accounts a job that ran outside admission control (the sync, async and coarse
    /// architectures), so that the dashboard shows their throughput and waits too: counters,
    /// histograms and the recent waits, with no queue entry and no slot.
    public func recordUnadmitted(
        waitSeconds: Double, serviceSeconds: Double, delivered: Bool, now: Double = MonotonicClock.now
    ) {
        segment.withLock { shared in
            if delivered { shared.completed += 1 } else { shared.failed += 1 }
            Self.record(&shared.queue_wait, seconds: waitSeconds)
            Self.record(&shared.service_time, seconds: serviceSeconds)
            Self.record(&shared.response_time, seconds: waitSeconds + serviceSeconds)
            let recent = fl_segment_recent_wait(&shared, shared.recent_next)
            recent.pointee = fl_recent_wait(
                at_ns: Self.nanoseconds(now - serviceSeconds), wait_ns: Self.nanoseconds(waitSeconds))
            shared.recent_next &+= 1
            if let worker = Self.workerEntry(&shared, pid: processID) { worker.pointee.jobs_completed += 1 }
        }
    }

    private func wakeWaiters() {
        fl_increment(segment.generation)
        _ = fl_futex_wake_all(segment.generation)
    }

    // MARK: - Workers

    private let pingCounter = PingCounterSlot()

    /// Counts one cheap request answered by this process, without taking the lock.
    @inline(__always)
    public func countPing() {
        if let counter = pingCounter.pointer { fl_count(counter) }
    }

    /// Enters this process in the worker table.
    public func register(now: Double = MonotonicClock.now) {
        segment.withLock { shared in
            var entry = Self.workerEntry(&shared, pid: processID)
            for index in 0..<FL_MAX_WORKERS where entry == nil {
                let candidate = fl_segment_worker(&shared, index)
                if candidate.pointee.state == FL_WORKER_EMPTY.rawValue { entry = candidate }
            }
            guard let entry else { return }
            let restarts = entry.pointee.slot_restarts
            entry.pointee = fl_worker(
                pid: processID, state: FL_WORKER_SERVING.rawValue, started_ns: Self.nanoseconds(now),
                heartbeat_ns: Self.nanoseconds(now), jobs_completed: 0, jobs_refused: 0, slot_restarts: restarts,
                reserved: 0, pings: 0)
            pingCounter.pointer = UnsafeMutableRawPointer(entry).advanced(
                by: MemoryLayout<fl_worker>.offset(of: \fl_worker.pings)!
            ).assumingMemoryBound(to: UInt64.self)
        }
    }

    /// Takes this process out of the table and frees any job it still holds.
    public func unregister() {
        pingCounter.pointer = nil
        let freed = segment.withLock { shared in
            let freed = Self.freeJobs(&shared, pid: processID)
            if let entry = Self.workerEntry(&shared, pid: processID) { entry.pointee.state = FL_WORKER_EMPTY.rawValue }
            return freed
        }
        if freed > 0 { wakeWaiters() }
    }

    /// A worker whose heartbeat is older than this is taken for dead even if its pid exists
    /// (a hung process, or a pid reused after a crash).
    public static let heartbeatTimeout = 3.0

    /// Marks this process alive, and frees the jobs and entries of workers that died.
    /// Every worker calls it a few times a second, so a `kill -9` is repaired within a second.
    @discardableResult
    public func heartbeatAndSweep(now: Double = MonotonicClock.now) -> Int {
        let freed = segment.withLock { shared in
            if let entry = Self.workerEntry(&shared, pid: processID) {
                entry.pointee.heartbeat_ns = Self.nanoseconds(now)
            }
            var freed = 0
            var dead = Set<Int32>()
            for index in 0..<FL_MAX_WORKERS {
                let entry = fl_segment_worker(&shared, index)
                guard entry.pointee.state != FL_WORKER_EMPTY.rawValue, entry.pointee.pid != processID else { continue }
                let silent = now - Double(entry.pointee.heartbeat_ns) / 1e9 > Self.heartbeatTimeout
                guard silent || Self.isDead(entry.pointee.pid) else { continue }
                dead.insert(entry.pointee.pid)
                entry.pointee.state = FL_WORKER_EMPTY.rawValue
                entry.pointee.slot_restarts += 1
            }
            // Jobs of any dead process, in the table or not.
            for index in 0..<FL_MAX_JOBS {
                let job = fl_segment_job(&shared, index)
                guard job.pointee.state != FL_JOB_FREE.rawValue else { continue }
                if dead.contains(job.pointee.pid) || Self.isDead(job.pointee.pid) {
                    job.pointee.state = FL_JOB_FREE.rawValue
                    freed += 1
                }
            }
            shared.recovered_jobs += UInt64(freed)
            shared.last_sweep_ns = Self.nanoseconds(now)
            return freed
        }
        if freed > 0 { wakeWaiters() }
        return freed
    }

    // MARK: - Reading

    /// A consistent copy of the segment's figures, with the prediction for a new job at `predictionCost`.
    public func snapshot(predictionCost: Int = 12, now: Double = MonotonicClock.now) -> AdmissionSnapshot {
        segment.withLock { shared in AdmissionSnapshot(shared: &shared, now: now, predictionCost: predictionCost) }
    }

    // MARK: - Helpers

    static func view(of shared: inout fl_segment, now: Double) -> (
        AdmissionPredictor, [AdmissionPredictor.RunningJob], [Int]
    ) {
        var running: [AdmissionPredictor.RunningJob] = []
        var queued: [(UInt64, Int)] = []
        for index in 0..<FL_MAX_JOBS {
            let job = fl_segment_job(&shared, index).pointee
            if job.state == FL_JOB_RUNNING.rawValue {
                running.append(.init(cost: Int(job.cost), elapsed: now - Double(job.started_ns) / 1e9))
            } else if job.state == FL_JOB_QUEUED.rawValue {
                queued.append((job.ticket, Int(job.cost)))
            }
        }
        queued.sort { $0.0 < $1.0 }
        let estimate = ServiceTimeEstimate(unitSeconds: shared.unit_seconds, samples: Int(shared.estimate_samples))
        return (AdmissionPredictor(slots: Int(shared.slots), estimate: estimate), running, queued.map(\.1))
    }

    static func record(_ histogram: inout fl_histogram, seconds: Double) {
        let nanoseconds = Int64(max(0, seconds) * 1e9)
        fl_histogram_count(&histogram, UInt32(LatencyBuckets.index(forSeconds: seconds))).pointee += 1
        histogram.total += 1
        histogram.sum_ns += nanoseconds
        histogram.max_ns = max(histogram.max_ns, nanoseconds)
    }

    private static func countRefusal(_ shared: inout fl_segment, pid: Int32) {
        if let worker = workerEntry(&shared, pid: pid) { worker.pointee.jobs_refused += 1 }
    }

    private static func workerEntry(_ shared: inout fl_segment, pid: Int32) -> UnsafeMutablePointer<fl_worker>? {
        for index in 0..<FL_MAX_WORKERS {
            let entry = fl_segment_worker(&shared, index)
            if entry.pointee.state != FL_WORKER_EMPTY.rawValue && entry.pointee.pid == pid { return entry }
        }
        return nil
    }

    private static func freeJobs(_ shared: inout fl_segment, pid: Int32) -> Int {
        var freed = 0
        for index in 0..<FL_MAX_JOBS {
            let job = fl_segment_job(&shared, index)
            if job.pointee.state != FL_JOB_FREE.rawValue && job.pointee.pid == pid {
                job.pointee.state = FL_JOB_FREE.rawValue
                freed += 1
            }
        }
        return freed
    }

    /// Whether no process has this pid (EPERM means it exists, under another user).
    private static func isDead(_ pid: Int32) -> Bool {
        pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH)
    }

    static func nanoseconds(_ seconds: Double) -> Int64 { Int64(seconds * 1e9) }
}

/// Where this process's ping counter lives in the segment, set once at registration.
private final class PingCounterSlot: @unchecked Sendable {
    // Written before request threads start and at shutdown; read on the ping path.
    nonisolated(unsafe) var pointer: UnsafeMutablePointer<UInt64>?
}
