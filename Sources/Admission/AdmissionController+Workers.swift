import POSIXSupport
import Synchronization

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
        let index = workerIndex.load(ordering: .relaxed)
        if index >= 0 { segment.countPing(worker: index) }
    }

    /// Enters this process in the worker table.
    public func register(now: Double = MonotonicClock.now) {
        let index: Int? = segment.withLockedView { view in
            let found =
                view.workerIndex(pid: processID)
                ?? (0..<SegmentView.workerCapacity).first { view[worker: $0].state == .empty }
            guard let found else { return nil }
            view[worker: found] = WorkerEntry(
                pid: processID, state: .serving, startedAt: now, heartbeatAt: now, jobsCompleted: 0, jobsRefused: 0,
                restarts: view[worker: found].restarts)
            view.resetPings(worker: found)
            return found
        }
        workerIndex.store(index ?? -1, ordering: .relaxed)
    }

    /// Takes this process out of the table and frees any job it still holds.
    public func unregister(now: Double = MonotonicClock.now) {
        workerIndex.store(-1, ordering: .relaxed)
        var woken = WakeList()
        withQueue { queue in
            _ = queue.freeJobs(now: now, woken: &woken) { $0 == processID }
            if let index = queue.storage.workerIndex(pid: processID) { queue.storage[worker: index].state = .empty }
        }
        segment.wakeGranted(woken)
    }

    /// Marks this process alive, and frees the jobs and entries of workers that died.
    /// Every worker calls it a few times a second, so a `kill -9` is repaired within a second.
    /// It looks at the worker table, the running slots and the waiting part of the ring only.
    @discardableResult
    public func heartbeatAndSweep(now: Double = MonotonicClock.now) -> Int {
        var woken = WakeList()
        let freed = withQueue { queue in
            let table = queue.storage
            if let index = table.workerIndex(pid: processID) { table[worker: index].heartbeatAt = now }
            var dead = Set<Int32>()
            var alive = Set<Int32>()
            for index in 0..<SegmentView.workerCapacity {
                var entry = table[worker: index]
                guard entry.state != .empty else { continue }
                let silent = now - entry.heartbeatAt > Self.heartbeatTimeout
                if entry.pid == processID || !(silent || Self.isDead(entry.pid)) {
                    alive.insert(entry.pid)
                    continue
                }
                dead.insert(entry.pid)
                entry.state = .empty
                entry.restarts &+= 1
                table[worker: index] = entry
            }
            // Jobs of any dead process, in the table or not (a pid that never registered is
            // asked about once per sweep).
            let freed = queue.freeJobs(now: now, woken: &woken) { pid in
                if dead.contains(pid) { return true }
                if alive.contains(pid) { return false }
                if Self.isDead(pid) {
                    dead.insert(pid)
                    return true
                }
                alive.insert(pid)
                return false
            }
            table.record(.recovered(jobs: freed))
            table.lastSweep = now
            return freed
        }
        segment.wakeGranted(woken)
        return freed
    }

    /// Whether no process has this pid (EPERM means it exists, under another user).
    private static func isDead(_ pid: Int32) -> Bool {
        pid <= 0 || (kill(pid, 0) == -1 && errno == ESRCH)
    }
}
