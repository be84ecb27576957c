import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The worker table: registration, heartbeats, and repairing what a worker that died left.
extension AdmissionController {
    /// A worker whose heartbeat is older than this is taken for dead even if its pid exists
    /// (a hung process, or a pid reused after a crash).
    public static let heartbeatTimeout = 3.0

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
    public func unregister(now: Double = MonotonicClock.now) {
        pingCounter.pointer = nil
        var woken = WakeList()
        segment.withLock { shared in
            _ = Self.freeJobs(&shared, now: now, woken: &woken) { $0 == processID }
            if let entry = Self.workerEntry(&shared, pid: processID) { entry.pointee.state = FL_WORKER_EMPTY.rawValue }
        }
        wake(woken)
    }

    /// Marks this process alive, and frees the jobs and entries of workers that died.
    /// Every worker calls it a few times a second, so a `kill -9` is repaired within a second.
    /// It looks at the worker table, the running slots and the waiting part of the ring only.
    @discardableResult
    public func heartbeatAndSweep(now: Double = MonotonicClock.now) -> Int {
        var woken = WakeList()
        let freed = segment.withLock { shared in
            if let entry = Self.workerEntry(&shared, pid: processID) {
                entry.pointee.heartbeat_ns = Self.nanoseconds(now)
            }
            var dead = Set<Int32>()
            var alive = Set<Int32>()
            for index in 0..<FL_MAX_WORKERS {
                let entry = fl_segment_worker(&shared, index)
                guard entry.pointee.state != FL_WORKER_EMPTY.rawValue else { continue }
                let silent = now - Double(entry.pointee.heartbeat_ns) / 1e9 > Self.heartbeatTimeout
                if entry.pointee.pid == processID || !(silent || Self.isDead(entry.pointee.pid)) {
                    alive.insert(entry.pointee.pid)
                    continue
                }
                dead.insert(entry.pointee.pid)
                entry.pointee.state = FL_WORKER_EMPTY.rawValue
                entry.pointee.slot_restarts &+= 1
            }
            // Jobs of any dead process, in the table or not (a pid that never registered is
            // asked about once per sweep).
            let freed = Self.freeJobs(&shared, now: now, woken: &woken) { pid in
                if dead.contains(pid) { return true }
                if alive.contains(pid) { return false }
                if Self.isDead(pid) {
                    dead.insert(pid)
                    return true
                }
                alive.insert(pid)
                return false
            }
            shared.recovered_jobs &+= UInt64(freed)
            shared.last_sweep_ns = Self.nanoseconds(now)
            return freed
        }
        wake(woken)
        return freed
    }

    /// Frees the running and waiting jobs whose pid `matches`, hands freed slots on, and
    /// returns how many it freed.
    private static func freeJobs(
        _ shared: inout fl_segment, now: Double, woken: inout WakeList, matching matches: (Int32) -> Bool
    ) -> Int {
        var freed = 0
        for index in 0..<FL_MAX_SLOTS {
            let slot = fl_segment_running(&shared, index).pointee
            guard slot.ticket != 0, matches(slot.pid) else { continue }
            let job = fl_segment_job(&shared, slot.ticket)
            if job.pointee.ticket == slot.ticket && job.pointee.state == FL_JOB_RUNNING.rawValue {
                release(&shared, job)
            } else {
                fl_segment_running(&shared, index).pointee.ticket = 0
                if shared.running_count > 0 { shared.running_count -= 1 }
            }
            freed += 1
        }
        var ticket = shared.grant_ticket
        let end = min(shared.next_ticket, shared.grant_ticket &+ UInt64(shared.job_capacity))
        while ticket < end {
            let job = fl_segment_job(&shared, ticket)
            if job.pointee.ticket == ticket, job.pointee.state == FL_JOB_QUEUED.rawValue, matches(job.pointee.pid) {
                leaveQueue(&shared, job)
                freed += 1
            }
            ticket += 1
        }
        grantWaiting(&shared, now: now, woken: &woken)
        return freed
    }

    /// Whether no process has this pid (EPERM means it exists, under another user).
    private static func isDead(_ pid: Int32) -> Bool {
        pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH)
    }
}
