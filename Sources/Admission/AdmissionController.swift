import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The N-second promise across processes: admits or refuses expensive jobs, hands out compute
/// slots in arrival order, and refuses at the deadline a job that could no longer finish in time.
///
/// All state lives in the shared segment, so every worker of the host sees one queue. Every
/// decision costs O(slots) under the lock, whatever the queue's length, and a job that ends
/// hands its slot to the next waiter with one wake-up (each waiter sleeps on its own futex word).
public final class AdmissionController: @unchecked Sendable {
    /// A job admitted to the queue.
    public struct Ticket: Sendable, Equatable {
        let ticket: UInt64
        /// The job's cost.
        public let cost: Int
        /// When its request reached nginx (monotonic seconds): N counts from here.
        public let arrivedAt: Double
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

    /// How a job that held a slot ended.
    public enum JobOutcome: Sendable, Equatable {
        /// Its answer went out in time.
        case delivered
        /// bcrypt refused or failed.
        case failed
        /// Its deadline passed while it ran: the client was answered 503 at N and the result dropped.
        case overran
    }

    /// The segment the controller works on.
    public let segment: SharedSegment
    /// N and the headroom.
    public let policy: AdmissionPolicy
    let processID: Int32
    let pingCounter = PingCounterSlot()

    /// Creates a controller on `segment` acting for `processID` (this process by default; tests
    /// act for others).
    public init(segment: SharedSegment, policy: AdmissionPolicy, processID: Int32 = getpid()) {
        self.segment = segment
        self.policy = policy
        self.processID = processID
    }

    // MARK: - Jobs

    /// Decides at once: admits the job to the global queue (with a slot straight away when one
    /// is free and nobody waits), or refuses it with a prediction.
    ///
    /// - Parameters:
    ///   - arrival: when the request reached nginx (monotonic seconds); N counts from there.
    ///   - mayHold: whether a refusal may be held back by the refusal budget; `false` answers it
    ///     at once (the caller holds as many as it can afford).
    public func admit(cost: Int, arrival: Double? = nil, mayHold: Bool = true, now: Double = MonotonicClock.now)
        -> Admission
    {
        let arrivedAt = min(arrival ?? now, now)
        var woken = WakeList()
        let admission: Admission = segment.withLock { shared in
            let (prediction, service) = Self.predict(&shared, cost: cost, now: now)
            let elapsed = now - arrivedAt
            if case .refuse(let retryAfter) = policy.decide(prediction, serviceSeconds: service, elapsed: elapsed) {
                if policy.decide(prediction, serviceSeconds: service) == .admit { shared.late_arrivals += 1 }
                return refuse(&shared, prediction, retryAfter, arrival: arrivedAt, mayHold: mayHold, now: now)
            }
            let ticket = shared.next_ticket
            let job = fl_segment_job(&shared, ticket)
            guard job.pointee.state == FL_JOB_FREE.rawValue else {
                // The ring is sized so that this does not happen; if it does, refuse, never overwrite.
                return refuse(&shared, prediction, 1, arrival: arrivedAt, mayHold: mayHold, now: now)
            }
            shared.next_ticket += 1
            shared.admitted += 1
            job.pointee = fl_job(
                state: FL_JOB_QUEUED.rawValue, granted: 0, pid: processID, cost: UInt32(cost), ticket: ticket,
                arrival_ns: Self.nanoseconds(arrivedAt), admitted_ns: Self.nanoseconds(now), started_ns: 0,
                running_slot: 0, reserved: 0)
            shared.queued_count += 1
            fl_segment_queued_by_cost(&shared, UInt32(cost)).pointee += 1
            Self.grantWaiting(&shared, now: now, woken: &woken)
            return .admitted(
                Ticket(ticket: ticket, cost: cost, arrivedAt: arrivedAt, admittedAt: now, prediction: prediction))
        }
        wake(woken)
        return admission
    }

    /// Refuses a job without looking at the queue (this process has no request thread to spare
    /// for it), counted like any refusal at once.
    public func refuseAtOnce(cost: Int, now: Double = MonotonicClock.now) -> Admission {
        segment.withLock { shared in
            let (prediction, _) = Self.predict(&shared, cost: cost, now: now)
            shared.refused_at_once += 1
            Self.countRefusal(&shared, pid: processID)
            return .refused(prediction: prediction, retryAfterSeconds: 1, answerAt: now)
        }
    }

    private func refuse(
        _ shared: inout fl_segment, _ prediction: AdmissionPredictor.Prediction, _ retryAfter: Int, arrival: Double,
        mayHold: Bool, now: Double
    ) -> Admission {
        shared.refused_at_once += 1
        Self.countRefusal(&shared, pid: processID)
        guard mayHold else { return .refused(prediction: prediction, retryAfterSeconds: retryAfter, answerAt: now) }
        let paced = policy.paceRefusal(
            now: now, arrival: arrival, theoreticalArrival: Double(shared.refusal_tat_ns) / 1e9)
        shared.refusal_tat_ns = Self.nanoseconds(paced.newTAT)
        if paced.answerAt > now { shared.paced_refusals += 1 }
        return .refused(prediction: prediction, retryAfterSeconds: retryAfter, answerAt: paced.answerAt)
    }

    /// Blocks until the job holds a compute slot (slots go in arrival order), or until it is too
    /// late to start: then it leaves the queue, refused.
    public func waitForSlot(_ ticket: Ticket) -> SlotOutcome {
        let word = segment.grantedWord(ticket: ticket.ticket)
        while true {
            let now = MonotonicClock.now
            let step: (outcome: SlotOutcome?, sleep: Double) = segment.withLock { shared in
                let job = fl_segment_job(&shared, ticket.ticket)
                guard job.pointee.ticket == ticket.ticket, job.pointee.state != FL_JOB_FREE.rawValue else {
                    // Swept as if this process had died; it has not, so it is too late to run.
                    return (.refusedAtDeadline(retryAfterSeconds: 1), 0)
                }
                if job.pointee.state == FL_JOB_RUNNING.rawValue { return (.granted, 0) }
                let service = shared.unit_seconds * ServiceTimeEstimate.work(ticket.cost)
                let latestStart = ticket.arrivedAt + policy.latestStart(serviceSeconds: service)
                if now < latestStart { return (nil, latestStart - now) }
                Self.leaveQueue(&shared, job)
                shared.refused_at_deadline += 1
                Self.countRefusal(&shared, pid: processID)
                let (prediction, _) = Self.predict(&shared, cost: ticket.cost, now: now)
                if case .refuse(let seconds) = policy.decide(prediction, serviceSeconds: service) {
                    return (.refusedAtDeadline(retryAfterSeconds: seconds), 0)
                }
                return (.refusedAtDeadline(retryAfterSeconds: 1), 0)
            }
            if let outcome = step.outcome { return outcome }
            // Woken by the job that hands this one its slot; otherwise at the latest start.
            _ = fl_futex_wait(word, 0, Int64(step.sleep * 1e9) + 1)
            // The word is set, under the lock, only as the slot is handed over: no need to look again.
            if fl_load_acquire(word) == 1 { return .granted }
        }
    }

    /// Ends a job that ran: frees its slot for the next waiter, records its times and teaches
    /// the estimate how long a job holds a slot (wake-ups and a busy machine included).
    public func finish(_ ticket: Ticket, serviceSeconds: Double, outcome: JobOutcome, now: Double = MonotonicClock.now)
    {
        var woken = WakeList()
        segment.withLock { shared in
            let job = fl_segment_job(&shared, ticket.ticket)
            guard job.pointee.ticket == ticket.ticket, job.pointee.state == FL_JOB_RUNNING.rawValue else { return }
            let held = now - Double(job.pointee.started_ns) / 1e9
            Self.release(&shared, job)
            switch outcome {
            case .delivered: shared.completed += 1
            case .failed: shared.failed += 1
            case .overran: shared.overran += 1
            }
            if outcome != .failed {
                // An overrun teaches the most: the machine is slower than the estimate says.
                var estimate = ServiceTimeEstimate(
                    unitSeconds: shared.unit_seconds, samples: Int(shared.estimate_samples))
                estimate.observe(seconds: max(held, serviceSeconds), atCost: ticket.cost)
                shared.unit_seconds = estimate.unitSeconds
                shared.estimate_samples = UInt64(estimate.samples)
            }
            Self.record(&shared.service_time, seconds: serviceSeconds)
            if outcome != .overran { Self.record(&shared.response_time, seconds: now - ticket.arrivedAt) }
            if let worker = Self.workerEntry(&shared, pid: processID) { worker.pointee.jobs_completed += 1 }
            Self.grantWaiting(&shared, now: now, woken: &woken)
        }
        wake(woken)
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
            Self.recordRecentWait(&shared, at: now - serviceSeconds, wait: waitSeconds)
            if let worker = Self.workerEntry(&shared, pid: processID) { worker.pointee.jobs_completed += 1 }
        }
    }

    /// Wakes the waiters that were just handed a slot: one wake-up each, nobody else.
    func wake(_ tickets: WakeList) {
        guard !tickets.isEmpty else { return }
        fl_increment(segment.generation)
        tickets.forEachTicket { _ = fl_futex_wake(segment.grantedWord(ticket: $0), 1) }
    }

    // MARK: - Reading

    /// A consistent copy of the segment's figures, with the prediction for a new job at `predictionCost`.
    public func snapshot(predictionCost: Int = 12, now: Double = MonotonicClock.now) -> AdmissionSnapshot {
        AdmissionSnapshot.read(segment, predictionCost: predictionCost, now: now)
    }
}

/// Where this process's ping counter lives in the segment, set once at registration.
final class PingCounterSlot: @unchecked Sendable {
    // Written before request threads start and at shutdown; read on the ping path.
    nonisolated(unsafe) var pointer: UnsafeMutablePointer<UInt64>?
}
