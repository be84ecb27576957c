import CSharedState

/// One process in the worker table.
struct WorkerEntry: Equatable, Sendable {
    enum State: UInt32, Sendable {
        /// Nobody: the entry may be taken.
        case empty = 0
        case serving = 1
        case stopping = 2
    }

    var pid: Int32
    var state: State
    var startedAt: Double
    /// When it last said it was alive (monotonic seconds).
    var heartbeatAt: Double
    var jobsCompleted: UInt64
    var jobsRefused: UInt64
    /// How often this entry was taken over from a worker that died.
    var restarts: UInt32
}

extension SegmentView {
    /// Entries in the worker table.
    static var workerCapacity: Int { Int(FL_MAX_WORKERS) }

    /// A worker table entry, its ping count aside (that one is counted without the lock).
    subscript(worker index: Int) -> WorkerEntry {
        get {
            let entry = fl_segment_worker(shared, UInt32(index) % FL_MAX_WORKERS).pointee
            return WorkerEntry(
                pid: entry.pid, state: WorkerEntry.State(rawValue: entry.state) ?? .stopping,
                startedAt: Self.seconds(entry.started_ns), heartbeatAt: Self.seconds(entry.heartbeat_ns),
                jobsCompleted: entry.jobs_completed, jobsRefused: entry.jobs_refused, restarts: entry.slot_restarts)
        }
        nonmutating set {
            let entry = fl_segment_worker(shared, UInt32(index) % FL_MAX_WORKERS)
            entry.pointee.pid = newValue.pid
            entry.pointee.state = newValue.state.rawValue
            entry.pointee.started_ns = Self.nanoseconds(newValue.startedAt)
            entry.pointee.heartbeat_ns = Self.nanoseconds(newValue.heartbeatAt)
            entry.pointee.jobs_completed = newValue.jobsCompleted
            entry.pointee.jobs_refused = newValue.jobsRefused
            entry.pointee.slot_restarts = newValue.restarts
        }
    }

    /// The entry of `pid`, if it is in the table.
    func workerIndex(pid: Int32) -> Int? {
        for index in 0..<Self.workerCapacity {
            let entry = fl_segment_worker(shared, UInt32(index)).pointee
            if entry.state != WorkerEntry.State.empty.rawValue && entry.pid == pid { return index }
        }
        return nil
    }

    /// Cheap requests the worker at `index` answered.
    func pings(worker index: Int) -> UInt64 {
        fl_load_count(fl_segment_worker_pings(shared, UInt32(index)))
    }

    /// Starts the ping count of a newly registered worker from zero.
    func resetPings(worker index: Int) {
        fl_segment_worker_pings(shared, UInt32(index)).pointee = 0
    }

    /// When a worker last swept the table for dead ones.
    var lastSweep: Double {
        get { Self.seconds(shared.pointee.last_sweep_ns) }
        nonmutating set { shared.pointee.last_sweep_ns = Self.nanoseconds(newValue) }
    }
}
