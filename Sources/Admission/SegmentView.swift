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

    var argon2UnitSeconds: Double {
        get { shared.pointee.argon2_unit_seconds }
        nonmutating set { shared.pointee.argon2_unit_seconds = newValue }
    }

    var argon2Samples: Int {
        get { Int(clamping: shared.pointee.argon2_samples) }
        nonmutating set { shared.pointee.argon2_samples = UInt64(max(0, newValue)) }
    }

    var memoryBudgetKiB: Int { Int(clamping: shared.pointee.memory_budget_kib) }

    var memoryInUseKiB: Int {
        get { Int(clamping: shared.pointee.memory_in_use_kib) }
        nonmutating set { shared.pointee.memory_in_use_kib = UInt64(max(0, newValue)) }
    }

    subscript(argon2Class index: Int) -> Argon2ClassEntry {
        get {
            let entry = fl_segment_argon2_class(shared, UInt32(truncatingIfNeeded: index)).pointee
            return Argon2ClassEntry(
                memoryKiB: Int(entry.memory_kib), passes: Int(entry.passes), fairUnits: entry.fair_units)
        }
        nonmutating set {
            fl_segment_argon2_class(shared, UInt32(truncatingIfNeeded: index)).pointee = fl_argon2_class(
                memory_kib: UInt32(clamping: newValue.memoryKiB), passes: UInt32(clamping: newValue.passes),
                fair_units: newValue.fairUnits)
        }
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

    /// A job's `client` when it has none.
    static let noClient = UInt32.max

    var clientCapacity: Int { Int(FL_MAX_CLIENTS) }

    subscript(client index: Int) -> ClientEntry {
        get {
            let entry = fl_segment_client(shared, UInt32(truncatingIfNeeded: index)).pointee
            var client = ClientEntry(
                key: entry.key, parent: Int(entry.parent % FL_MAX_CLIENTS),
                kind: ClientKey.Kind(rawValue: entry.kind) ?? .none)
            client.children = Int(entry.children)
            client.activeLeaves = Int(entry.active_leaves)
            client.queued = Int(entry.queued)
            client.running = Int(entry.running)
            client.work = entry.work
            client.groupWork = entry.group_work
            client.recent = entry.recent_work.isFinite ? max(0, entry.recent_work) : 0
            client.groupRecent = entry.group_recent_work.isFinite ? max(0, entry.group_recent_work) : 0
            client.recentAt = Self.seconds(entry.recent_at_ns)
            client.head = entry.head
            client.tail = entry.tail
            client.waitingPrevious =
                entry.waiting_previous < 0 ? -1 : Int(UInt32(entry.waiting_previous) % FL_MAX_CLIENTS)
            client.waitingNext = entry.waiting_next < 0 ? -1 : Int(UInt32(entry.waiting_next) % FL_MAX_CLIENTS)
            client.lastActive = Self.seconds(entry.last_active_ns)
            client.refusalTheoreticalArrival = Self.seconds(entry.refusal_tat_ns)
            client.served = entry.served_seconds.isFinite ? entry.served_seconds : 0
            client.servedAt = Self.seconds(entry.served_at_ns)
            client.admitted = entry.admitted
            client.refusedAtCapacity = entry.refused_at_capacity
            client.refusedOverShare = entry.refused_over_share
            client.displaced = entry.displaced
            return client
        }
        nonmutating set {
            fl_segment_client(shared, UInt32(truncatingIfNeeded: index)).pointee = fl_client(
                key: newValue.key, parent: UInt32(clamping: newValue.parent), kind: newValue.kind.rawValue,
                children: UInt32(clamping: newValue.children), active_leaves: UInt32(clamping: newValue.activeLeaves),
                queued: UInt32(clamping: newValue.queued), running: UInt32(clamping: newValue.running),
                work: newValue.work, group_work: newValue.groupWork, recent_work: newValue.recent,
                group_recent_work: newValue.groupRecent, recent_at_ns: Self.nanoseconds(newValue.recentAt),
                head: newValue.head, tail: newValue.tail,
                waiting_previous: Int32(clamping: newValue.waitingPrevious),
                waiting_next: Int32(clamping: newValue.waitingNext),
                last_active_ns: Self.nanoseconds(newValue.lastActive),
                refusal_tat_ns: Self.nanoseconds(newValue.refusalTheoreticalArrival),
                served_seconds: newValue.served, served_at_ns: Self.nanoseconds(newValue.servedAt),
                admitted: newValue.admitted, refused_at_capacity: newValue.refusedAtCapacity,
                refused_over_share: newValue.refusedOverShare, displaced: newValue.displaced)
        }
    }

    var totalWork: UInt64 {
        get { shared.pointee.total_work }
        nonmutating set { shared.pointee.total_work = newValue }
    }

    var activeGroups: Int {
        get { Int(shared.pointee.active_groups) }
        nonmutating set { shared.pointee.active_groups = UInt32(clamping: newValue) }
    }

    var waitingClients: Int {
        get {
            let first = shared.pointee.waiting_clients
            return first < 0 ? -1 : Int(UInt32(first) % FL_MAX_CLIENTS)
        }
        nonmutating set { shared.pointee.waiting_clients = Int32(clamping: newValue) }
    }

    var activeRecent: Double {
        get { shared.pointee.active_recent_work.isFinite ? max(0, shared.pointee.active_recent_work) : 0 }
        nonmutating set { shared.pointee.active_recent_work = newValue }
    }

    var activeRecentAt: Double {
        get { Self.seconds(shared.pointee.active_recent_at_ns) }
        nonmutating set { shared.pointee.active_recent_at_ns = Self.nanoseconds(newValue) }
    }

    var servedTotal: Double {
        get { shared.pointee.served_total.isFinite ? shared.pointee.served_total : 0 }
        nonmutating set { shared.pointee.served_total = newValue }
    }

    var servedTotalAt: Double {
        get { Self.seconds(shared.pointee.served_total_at_ns) }
        nonmutating set { shared.pointee.served_total_at_ns = Self.nanoseconds(newValue) }
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

    func record(_ event: QueueEvent) {
        switch event {
        case .admitted:
            shared.pointee.admitted &+= 1
        case .refusedAtOnce(let pid, let late, let paced, let overShare):
            shared.pointee.refused_at_once &+= 1
            if late { shared.pointee.late_arrivals &+= 1 }
            if paced { shared.pointee.paced_refusals &+= 1 }
            if overShare { shared.pointee.refused_over_share &+= 1 }
            countRefusal(pid: pid)
        case .displaced(let pid):
            shared.pointee.displaced &+= 1
            countRefusal(pid: pid)
        case .keyOverflowed:
            shared.pointee.key_overflows &+= 1
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
        case .argon2Delivered:
            shared.pointee.completed_argon2 &+= 1
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
