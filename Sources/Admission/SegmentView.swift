import CSharedState

/// The shared segment seen from Swift while its lock is held: the job ring and running slots
/// (as ``SlotQueueStorage``), the estimate, the counters and histograms, the recent waits and the
/// worker table, all as Swift values. It exists only inside ``SharedSegment/withLockedView(_:)``;
/// nothing above it touches the C layout.
///
/// Any process with the segment's uid can write to it, so nothing read back is trusted to be in
/// range: the job ring's capacity is the one checked at mapping, indexes are taken modulo their
/// tables, costs are clamped before they become powers of two, and the queue sanitises the
/// estimate and bounds every walk of the ring. The worst a scribbled value can do is a wrong
/// decision, answered as a refusal.
struct SegmentView {
    /// The locked segment. Only the `SegmentView` files use it: the module imports the C layout
    /// nowhere else (with member import visibility on, nothing else can even name its fields).
    let shared: UnsafeMutablePointer<fl_segment>
    /// Entries in the job ring, as checked when the segment was mapped.
    let capacity: UInt32

    /// Only ``SharedSegment/withLockedView(_:)`` makes one, with the lock held.
    init(locked shared: UnsafeMutablePointer<fl_segment>, capacity: UInt32) {
        self.shared = shared
        self.capacity = max(1, capacity)
    }

    /// The highest cost a job read back may have: 2^63 units is still a finite time.
    static let highestCost = 63

    /// The layout version the segment was made with.
    var version: UInt32 { shared.pointee.version }
    var deadlineSeconds: Double { Double(shared.pointee.deadline_ns) / 1e9 }

    /// The most jobs the workers run together in one slot, as the latest of them configured it.
    var lanes: Int { Int(min(max(shared.pointee.lanes, 1), FL_MAX_BATCH)) }

    /// Sets what every process of the host shares: its compute slots, N, its batches' size and
    /// its memory budget; and argon2id's estimate, until argon2id jobs have taught it.
    func configure(slots: Int, deadline: Double, lanes: Int, memoryBudgetKiB: Int = 0, argon2UnitSeconds: Double = 1e-8)
    {
        shared.pointee.memory_budget_kib = UInt64(max(0, memoryBudgetKiB))
        if shared.pointee.argon2_samples == 0, argon2UnitSeconds.isFinite, argon2UnitSeconds > 0 {
            shared.pointee.argon2_unit_seconds = argon2UnitSeconds
        }
        shared.pointee.slots = UInt32(min(max(1, slots), SharedSegment.maximumSlots))
        shared.pointee.deadline_ns = Self.nanoseconds(deadline)
        shared.pointee.lanes = UInt32(min(max(1, lanes), SharedSegment.maximumBatch))
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
    var jobCapacity: Int { Int(capacity) }

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

    func queuedCount(atCost cost: Int, process bucket: Int) -> Int {
        Int(
            fl_segment_queued_by_process(
                shared, UInt32(truncatingIfNeeded: bucket), UInt32(truncatingIfNeeded: cost)
            ).pointee)
    }

    func setQueuedCount(_ count: Int, atCost cost: Int, process bucket: Int) {
        fl_segment_queued_by_process(shared, UInt32(truncatingIfNeeded: bucket), UInt32(truncatingIfNeeded: cost))
            .pointee = UInt16(clamping: count)
    }

    subscript(job ticket: UInt64) -> QueueEntry {
        get {
            let job = fl_segment_job(shared, ticket, capacity).pointee
            let signal = fl_load_acquire(fl_segment_granted(shared, ticket, capacity))
            return QueueEntry(
                state: QueueEntry.State(rawValue: job.state) ?? .free, pid: job.pid,
                cost: Int(min(job.cost, UInt32(Self.highestCost))),
                ticket: job.ticket, arrivedAt: Self.seconds(job.arrival_ns), admittedAt: Self.seconds(job.admitted_ns),
                startedAt: Self.seconds(job.started_ns), runningSlot: Int(job.running_slot),
                granted: signal == FL_JOB_GRANTED.rawValue,
                client: job.client == Self.noClient ? nil : Int(job.client % FL_MAX_CLIENTS),
                clientPrevious: job.client_previous, clientNext: job.client_next,
                displaced: signal == FL_JOB_DISPLACED.rawValue, batchHead: job.batch_head,
                batchSize: Int(min(max(job.batch_size, 1), FL_MAX_BATCH)))
        }
        nonmutating set {
            let job = fl_segment_job(shared, ticket, capacity)
            job.pointee.state = newValue.state.rawValue
            job.pointee.pid = newValue.pid
            job.pointee.cost = UInt32(clamping: newValue.cost)
            job.pointee.ticket = newValue.ticket
            job.pointee.arrival_ns = Self.nanoseconds(newValue.arrivedAt)
            job.pointee.admitted_ns = Self.nanoseconds(newValue.admittedAt)
            job.pointee.started_ns = Self.nanoseconds(newValue.startedAt)
            job.pointee.running_slot = UInt32(clamping: newValue.runningSlot)
            job.pointee.client = newValue.client.map { UInt32(clamping: $0) } ?? Self.noClient
            job.pointee.client_previous = newValue.clientPrevious
            job.pointee.client_next = newValue.clientNext
            job.pointee.batch_head = newValue.batchHead
            job.pointee.batch_size = UInt32(clamping: newValue.batchSize)
            // Last, and with release ordering: the waiter reads it without the lock.
            let signal =
                newValue.granted ? FL_JOB_GRANTED : newValue.displaced ? FL_JOB_DISPLACED : FL_JOB_WAITING
            fl_store_release(fl_segment_granted(shared, ticket, capacity), signal.rawValue)
        }
    }

    subscript(running index: Int) -> RunningEntry {
        get {
            let entry = fl_segment_running(shared, UInt32(index) % FL_MAX_SLOTS).pointee
            let lanes = min(max(entry.lanes, 1), FL_MAX_BATCH)
            return RunningEntry(
                ticket: entry.ticket, cost: Int(min(entry.cost, UInt32(Self.highestCost))), pid: entry.pid,
                startedAt: Self.seconds(entry.started_ns), lanes: Int(lanes),
                membersLeft: Int(min(entry.members_left, lanes)))
        }
        nonmutating set {
            fl_segment_running(shared, UInt32(index) % FL_MAX_SLOTS).pointee = fl_running(
                ticket: newValue.ticket, cost: UInt32(clamping: newValue.cost), pid: newValue.pid,
                started_ns: Self.nanoseconds(newValue.startedAt), lanes: UInt32(clamping: newValue.lanes),
                members_left: UInt32(clamping: newValue.membersLeft))
        }
    }

    subscript(batch lanes: Int) -> BatchFactor {
        get {
            let index = UInt32(truncatingIfNeeded: lanes)
            let factor = fl_segment_batch_factor(shared, index).pointee
            return BatchFactor(
                factor: factor.isFinite ? factor : 0,
                samples: Int(clamping: fl_segment_batch_samples(shared, index).pointee))
        }
        nonmutating set {
            let index = UInt32(truncatingIfNeeded: lanes)
            fl_segment_batch_factor(shared, index).pointee = newValue.factor
            fl_segment_batch_samples(shared, index).pointee = UInt64(max(0, newValue.samples))
        }
    }

}
