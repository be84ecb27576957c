import CSharedState

/// The shared segment seen from Swift while its lock is held: the job ring and running slots
/// (as ``SlotQueueStorage``), the estimate, the counters and histograms, the recent waits and the
/// worker table, all as Swift values. It exists only inside ``SharedSegment/withLockedView(_:)``;
/// nothing above it touches the C layout.
///
/// Values read back are used as they are only where a wrong one cannot take a decision out of
/// bounds: indexes are taken modulo their tables, and the queue sanitises the estimate.
struct SegmentView {
    /// The locked segment. Only the `SegmentView` files use it: the module imports the C layout
    /// nowhere else (with member import visibility on, nothing else can even name its fields).
    let shared: UnsafeMutablePointer<fl_segment>

    /// Only ``SharedSegment/withLockedView(_:)`` makes one, with the lock held.
    init(locked shared: UnsafeMutablePointer<fl_segment>) {
        self.shared = shared
    }

    /// The layout version the segment was made with.
    var version: UInt32 { shared.pointee.version }
    var deadlineSeconds: Double { Double(shared.pointee.deadline_ns) / 1e9 }

    /// Sets what every process of the host shares: its compute slots and N.
    func configure(slots: Int, deadline: Double) {
        shared.pointee.slots = UInt32(min(max(1, slots), SharedSegment.maximumSlots))
        shared.pointee.deadline_ns = Self.nanoseconds(deadline)
    }

    /// Monotonic seconds as the segment stores them, clamped so that nonsense cannot trap.
    static func nanoseconds(_ seconds: Double) -> Int64 {
        seconds.isFinite ? Int64(max(-9e9, min(seconds, 9e9)) * 1e9) : 0
    }

    static func seconds(_ nanoseconds: Int64) -> Double { Double(nanoseconds) / 1e9 }
}

// MARK: - The queue

extension SegmentView: SlotQueueStorage {
    var slots: Int { Int(min(shared.pointee.slots, FL_MAX_SLOTS)) }
    var jobCapacity: Int { Int(shared.pointee.job_capacity) }

    var unitSeconds: Double {
        get { shared.pointee.unit_seconds }
        nonmutating set { shared.pointee.unit_seconds = newValue }
    }

    var estimateSamples: Int {
        get { Int(clamping: shared.pointee.estimate_samples) }
        nonmutating set { shared.pointee.estimate_samples = UInt64(max(0, newValue)) }
    }

    var nextTicket: UInt64 {
        get { shared.pointee.next_ticket }
        nonmutating set { shared.pointee.next_ticket = newValue }
    }

    var grantTicket: UInt64 {
        get { shared.pointee.grant_ticket }
        nonmutating set { shared.pointee.grant_ticket = newValue }
    }

    var runningCount: Int {
        get { Int(shared.pointee.running_count) }
        nonmutating set { shared.pointee.running_count = UInt32(clamping: newValue) }
    }

    var queuedCount: Int {
        get { Int(shared.pointee.queued_count) }
        nonmutating set { shared.pointee.queued_count = UInt32(clamping: newValue) }
    }

    var refusalTheoreticalArrival: Double {
        get { Self.seconds(shared.pointee.refusal_tat_ns) }
        nonmutating set { shared.pointee.refusal_tat_ns = Self.nanoseconds(newValue) }
    }

    func queuedCount(atCost cost: Int) -> Int {
        Int(fl_segment_queued_by_cost(shared, UInt32(truncatingIfNeeded: cost)).pointee)
    }

    func setQueuedCount(_ count: Int, atCost cost: Int) {
        fl_segment_queued_by_cost(shared, UInt32(truncatingIfNeeded: cost)).pointee = UInt32(clamping: count)
    }

    subscript(job ticket: UInt64) -> QueueEntry {
        get {
            let job = fl_segment_job(shared, ticket).pointee
            return QueueEntry(
                state: QueueEntry.State(rawValue: job.state) ?? .free, pid: job.pid, cost: Int(job.cost),
                ticket: job.ticket, arrivedAt: Self.seconds(job.arrival_ns), admittedAt: Self.seconds(job.admitted_ns),
                startedAt: Self.seconds(job.started_ns), runningSlot: Int(job.running_slot), granted: job.granted != 0)
        }
        nonmutating set {
            let job = fl_segment_job(shared, ticket)
            job.pointee.state = newValue.state.rawValue
            job.pointee.pid = newValue.pid
            job.pointee.cost = UInt32(clamping: newValue.cost)
            job.pointee.ticket = newValue.ticket
            job.pointee.arrival_ns = Self.nanoseconds(newValue.arrivedAt)
            job.pointee.admitted_ns = Self.nanoseconds(newValue.admittedAt)
            job.pointee.started_ns = Self.nanoseconds(newValue.startedAt)
            job.pointee.running_slot = UInt32(clamping: newValue.runningSlot)
            // Last, and with release ordering: the waiter reads it without the lock.
            fl_store_release(fl_segment_granted(shared, ticket), newValue.granted ? 1 : 0)
        }
    }

    subscript(running index: Int) -> RunningEntry {
        get {
            let entry = fl_segment_running(shared, UInt32(index) % FL_MAX_SLOTS).pointee
            return RunningEntry(
                ticket: entry.ticket, cost: Int(entry.cost), pid: entry.pid, startedAt: Self.seconds(entry.started_ns))
        }
        nonmutating set {
            fl_segment_running(shared, UInt32(index) % FL_MAX_SLOTS).pointee = fl_running(
                ticket: newValue.ticket, cost: UInt32(clamping: newValue.cost), pid: newValue.pid,
                started_ns: Self.nanoseconds(newValue.startedAt))
        }
    }

    func record(_ event: QueueEvent) {
        switch event {
        case .admitted:
            shared.pointee.admitted &+= 1
        case .refusedAtOnce(let pid, let late, let paced):
            shared.pointee.refused_at_once &+= 1
            if late { shared.pointee.late_arrivals &+= 1 }
            if paced { shared.pointee.paced_refusals &+= 1 }
            countRefusal(pid: pid)
        case .refusedAtDeadline(let pid):
            shared.pointee.refused_at_deadline &+= 1
            countRefusal(pid: pid)
        case .granted(let at, let wait):
            Self.record(&shared.pointee.queue_wait, seconds: wait)
            recordRecentWait(at: at, wait: wait)
        case .ended(let pid, let outcome, let serviceSeconds, let responseSeconds):
            switch outcome {
            case .delivered: shared.pointee.completed &+= 1
            case .failed: shared.pointee.failed &+= 1
            case .overran: shared.pointee.overran &+= 1
            }
            Self.record(&shared.pointee.service_time, seconds: serviceSeconds)
            if let responseSeconds { Self.record(&shared.pointee.response_time, seconds: responseSeconds) }
            countCompletion(pid: pid)
        case .ranUnadmitted(let pid, let delivered, let waitSeconds, let serviceSeconds, let at):
            if delivered { shared.pointee.completed &+= 1 } else { shared.pointee.failed &+= 1 }
            Self.record(&shared.pointee.queue_wait, seconds: waitSeconds)
            Self.record(&shared.pointee.service_time, seconds: serviceSeconds)
            Self.record(&shared.pointee.response_time, seconds: waitSeconds + serviceSeconds)
            recordRecentWait(at: at, wait: waitSeconds)
            countCompletion(pid: pid)
        case .recovered(let jobs):
            shared.pointee.recovered_jobs &+= UInt64(jobs)
        }
    }

    private static func record(_ histogram: inout fl_histogram, seconds: Double) {
        let nanoseconds = Int64(max(0, min(seconds, 1e6)) * 1e9)
        fl_histogram_count(&histogram, UInt32(LatencyBuckets.index(forSeconds: seconds))).pointee &+= 1
        histogram.total &+= 1
        histogram.sum_ns &+= nanoseconds
        histogram.max_ns = max(histogram.max_ns, nanoseconds)
    }

    private func recordRecentWait(at: Double, wait: Double) {
        fl_segment_recent_wait(shared, shared.pointee.recent_next).pointee = fl_recent_wait(
            at_ns: Self.nanoseconds(at), wait_ns: Self.nanoseconds(wait))
        shared.pointee.recent_next &+= 1
    }

    private func countRefusal(pid: Int32) {
        if let index = workerIndex(pid: pid) { fl_segment_worker(shared, UInt32(index)).pointee.jobs_refused &+= 1 }
    }

    private func countCompletion(pid: Int32) {
        if let index = workerIndex(pid: pid) { fl_segment_worker(shared, UInt32(index)).pointee.jobs_completed &+= 1 }
    }
}
