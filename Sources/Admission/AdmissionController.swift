// Longer than most files: the cross-process shell around SlotQueue: each entry point of a job's life (admit, wait, batch, finish, snapshot) under the one lock; the worker table's are in AdmissionController+Workers.
import POSIXSupport
import ServiceDefaults
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The N-second promise across processes: admits or refuses expensive jobs, hands out compute
/// slots in arrival order, and refuses at the deadline a job that could no longer finish in time.
///
/// All state lives in the shared segment, so every worker of the host sees one queue. The
/// controller is the cross-process shell around ``SlotQueue``, which makes every decision: it
/// takes the segment's lock, runs the decision on the segment's view with the time, and after
/// letting go wakes the waiters the decision handed slots to — one wake-up each, as each waiter
/// sleeps on its own futex word. Every decision costs O(slots) whatever the queue's length.
public final class AdmissionController: Sendable {
    /// A job admitted to the queue.
    public struct Ticket: Sendable, Equatable {
        let ticket: UInt64
        /// Its place in arrival order, unique on the host: what a ``Batch`` lists.
        public var number: UInt64 { ticket }
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
        /// refusal budget (its client's, with fairness on) is spent.
        case refused(
            prediction: AdmissionPredictor.Prediction, retryAfterSeconds: Int, answerAt: Double, reason: RefusalReason)
    }

    /// Why a job was refused as it arrived.
    public enum RefusalReason: Sendable, Equatable {
        /// It would not finish within N, and no waiting work could fairly give it room.
        case atCapacity
        /// It would not finish within N, and its client already has more than its fair share.
        case overShare
    }

    /// The answer to a job waiting for a slot.
    public enum SlotOutcome: Sendable, Equatable {
        case granted
        /// It could not have started in time to finish within N: refused without running.
        case refusedAtDeadline(retryAfterSeconds: Int)
        /// A client under its fair share took its place before it started: refused without running.
        case displaced(retryAfterSeconds: Int)
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
    /// This process's entry in the worker table, or -1 before registering: where pings are counted.
    let workerIndex = Atomic<Int>(-1)

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
    ///   - client: who sent it, for the fair share (with fairness on in the policy).
    public func admit(
        _ job: JobClass, arrival: Double? = nil, mayHold: Bool = true, client: ClientKey? = nil,
        now: Double = MonotonicClock.now
    ) -> Admission {
        var woken = WakeList()
        // Hashed before the lock is taken; the seed is written once, before the segment is ready.
        let hashed = policy.fairness ? client.map { $0.hashed(seed: segment.keySeed) } : nil
        let admission = withQueue { queue in
            // Four argon2id parameter sets in flight at once and a fifth arrives: it waits its turn.
            guard let index = queue.classIndex(for: job) else {
                return queue.refuseAtOnce(cost: Self.fallbackClass(for: job), pid: processID, now: now)
            }
            return queue.admit(
                cost: index, arrivedAt: min(arrival ?? now, now), pid: processID, mayHold: mayHold, client: hashed,
                now: now, woken: &woken)
        }
        segment.wakeGranted(woken)
        return admission
    }

    /// Refuses a job without looking at the queue (this process has no request thread to spare
    /// for it), counted like any refusal at once.
    public func refuseAtOnce(_ job: JobClass, now: Double = MonotonicClock.now) -> Admission {
        withQueue { queue in
            queue.refuseAtOnce(
                cost: queue.classIndex(for: job) ?? Self.fallbackClass(for: job), pid: processID, now: now)
        }
    }

    /// A bcrypt job admitted at `cost`: ``admit(_:arrival:mayHold:client:now:)`` of `.bcrypt(cost:)`.
    public func admit(
        cost: Int, arrival: Double? = nil, mayHold: Bool = true, client: ClientKey? = nil,
        now: Double = MonotonicClock.now
    ) -> Admission {
        admit(.bcrypt(cost: cost), arrival: arrival, mayHold: mayHold, client: client, now: now)
    }

    /// The class a refusal of a job that found no class is predicted with: bcrypt's highest.
    private static func fallbackClass(for job: JobClass) -> Int {
        if case .bcrypt(let cost) = job { return cost }
        return SharedSegment.costClasses - 1
    }

    /// Blocks until the job holds a compute slot (slots go in arrival order), or until it is too
    /// late to start: then it leaves the queue, refused.
    public func waitForSlot(_ ticket: Ticket) -> SlotOutcome {
        while true {
            switch withQueue({ $0.step(ticket, pid: processID, now: MonotonicClock.now) }) {
            case .granted: return .granted
            case .refused(let retryAfter): return .refusedAtDeadline(retryAfterSeconds: retryAfter)
            case .displaced(let retryAfter): return .displaced(retryAfterSeconds: retryAfter)
            case .wait(let seconds):
                // Woken by the job that hands this one its slot; otherwise at the latest start.
                if segment.waitForGrant(ticket: ticket.ticket, timeout: seconds) { return .granted }
            }
        }
    }

    /// The jobs a granted job runs with: a batch of one or more of this process's jobs at its
    /// cost, which one thread of this process hashes together.
    public struct Batch: Sendable, Equatable {
        /// The ticket of the batch's first job: the same for every member.
        public let head: UInt64
        /// Its jobs' tickets, this one's included: one when it runs alone.
        public let tickets: [UInt64]
    }

    /// The batch a job that was granted its slot runs in (alone, if it no longer holds one).
    public func batch(of ticket: Ticket) -> Batch {
        withQueue { queue in
            let job = queue.storage[job: ticket.ticket]
            guard job.ticket == ticket.ticket, job.state == .running, job.pid == processID, job.batchSize > 1 else {
                return Batch(head: ticket.ticket, tickets: [ticket.ticket])
            }
            return Batch(head: job.batchHead, tickets: queue.batchMembers(head: job.batchHead, slot: job.runningSlot))
        }
    }

    /// Ends a job that ran: frees its slot for the next waiter, records its times and teaches
    /// the estimate how long a job holds a slot (wake-ups and a busy machine included).
    public func finish(_ ticket: Ticket, serviceSeconds: Double, outcome: JobOutcome, now: Double = MonotonicClock.now)
    {
        var woken = WakeList()
        withQueue { queue in
            queue.finish(
                ticket, serviceSeconds: serviceSeconds, outcome: outcome, pid: processID, now: now, woken: &woken)
        }
        segment.wakeGranted(woken)
    }

    /// Accounts a job that ran outside admission control (the sync, async and coarse
    /// architectures), so that the dashboard shows their throughput and waits too: counters,
    /// histograms and the recent waits, with no queue entry and no slot.
    public func recordUnadmitted(
        waitSeconds: Double, serviceSeconds: Double, delivered: Bool, now: Double = MonotonicClock.now
    ) {
        segment.withLockedView { view in
            view.record(
                .ranUnadmitted(
                    pid: processID, delivered: delivered, waitSeconds: waitSeconds, serviceSeconds: serviceSeconds,
                    at: now - serviceSeconds))
        }
    }

    /// Runs a decision on the queue in the segment, under its lock.
    func withQueue<Result>(_ decide: (inout SlotQueue<SegmentView>) -> Result) -> Result {
        segment.withLockedView { view in
            var queue = SlotQueue(storage: view, policy: policy)
            return decide(&queue)
        }
    }

    // MARK: - Reading

    /// A consistent copy of the segment's figures, with the prediction for a new job at `predictionCost`.
    public func snapshot(predictionCost: Int = HashDefaults.cost, now: Double = MonotonicClock.now) -> AdmissionSnapshot
    {
        AdmissionSnapshot.read(segment, predictionCost: predictionCost, now: now)
    }
}
