#if canImport(Glibc)
    import Glibc
#endif

/// The fair share's bookkeeping: each client's work waiting and running, its group's, the
/// host's, and the list of clients with waiting jobs, kept as jobs arrive, start and end.
extension SlotQueue {
    // MARK: - Keeping the counts

    /// Adds or takes away work of a client: its own, its group's, and the host's.
    mutating func changeWork(client index: Int, by units: UInt64, adding: Bool, now: Double) {
        var leaf = storage[client: index]
        let before = leaf.work
        leaf.work = adding ? before &+ units : before - min(units, before)
        let after = leaf.work
        storage[client: index] = leaf
        var group = storage[client: leaf.parent]
        let groupBefore = group.groupWork
        group.groupWork = adding ? groupBefore &+ units : groupBefore - min(units, groupBefore)
        if before == 0, after > 0 { group.activeLeaves += 1 }
        if before > 0, after == 0 { group.activeLeaves = max(0, group.activeLeaves - 1) }
        storage[client: leaf.parent] = group
        // A group's recent work counts towards the active total while it has work.
        if groupBefore == 0, group.groupWork > 0 {
            storage.activeGroups += 1
            changeActiveRecent(by: recentWork(ofGroup: leaf.parent, now: now), now: now)
        }
        if groupBefore > 0, group.groupWork == 0 {
            storage.activeGroups = max(0, storage.activeGroups - 1)
            changeActiveRecent(by: -recentWork(ofGroup: leaf.parent, now: now), now: now)
        }
        storage.totalWork = adding ? storage.totalWork &+ units : storage.totalWork - min(units, storage.totalWork)
    }

    /// Puts a client in the list of entries with waiting jobs.
    mutating func linkWaiting(_ index: Int) {
        var entry = storage[client: index]
        entry.waitingPrevious = -1
        entry.waitingNext = storage.waitingClients
        storage[client: index] = entry
        if entry.waitingNext >= 0 {
            var next = storage[client: entry.waitingNext]
            next.waitingPrevious = index
            storage[client: entry.waitingNext] = next
        }
        storage.waitingClients = index
    }

    mutating func unlinkWaiting(_ index: Int) {
        var entry = storage[client: index]
        if entry.waitingPrevious >= 0 {
            var previous = storage[client: entry.waitingPrevious]
            previous.waitingNext = entry.waitingNext
            storage[client: entry.waitingPrevious] = previous
        } else if storage.waitingClients == index {
            storage.waitingClients = entry.waitingNext
        }
        if entry.waitingNext >= 0 {
            var next = storage[client: entry.waitingNext]
            next.waitingPrevious = entry.waitingPrevious
            storage[client: entry.waitingNext] = next
        }
        entry.waitingPrevious = -1
        entry.waitingNext = -1
        storage[client: index] = entry
    }

    /// A job just entered the queue (or came back to it): it joins the back of its client's
    /// waiting jobs, and its work counts as admitted recently (as much as is left of it since
    /// its admission).
    mutating func attachWaiting(ticket: UInt64, now: Double) {
        var job = storage[job: ticket]
        guard let index = job.client else { return }
        var entry = storage[client: index]
        job.clientPrevious = entry.tail
        job.clientNext = 0
        storage[job: ticket] = job
        if entry.tail != 0 {
            var last = storage[job: entry.tail]
            last.clientNext = ticket
            storage[job: entry.tail] = last
        } else {
            entry.head = ticket
        }
        entry.tail = ticket
        entry.queued += 1
        entry.lastActive = now
        storage[client: index] = entry
        if entry.queued == 1 { linkWaiting(index) }
        changeWork(client: index, by: fairUnits(ofClass: job.cost), adding: true, now: now)
        changeRecent(client: index, by: recentWeight(of: job, now: now), now: now)
    }

    /// A waiting job leaves its client's waiting jobs: it got a slot (`starts`), or it left
    /// the queue (refused at its deadline, displaced, or its process died), and then its work no
    /// longer counts as admitted.
    mutating func detachWaiting(ticket: UInt64, starts: Bool, now: Double) {
        let job = storage[job: ticket]
        guard let index = job.client else { return }
        var entry = storage[client: index]
        if job.clientPrevious != 0 {
            var previous = storage[job: job.clientPrevious]
            previous.clientNext = job.clientNext
            storage[job: job.clientPrevious] = previous
        } else if entry.head == ticket {
            entry.head = job.clientNext
        }
        if job.clientNext != 0 {
            var next = storage[job: job.clientNext]
            next.clientPrevious = job.clientPrevious
            storage[job: job.clientNext] = next
        } else if entry.tail == ticket {
            entry.tail = job.clientPrevious
        }
        entry.queued = max(0, entry.queued - 1)
        if starts { entry.running += 1 }
        storage[client: index] = entry
        if entry.queued == 0 { unlinkWaiting(index) }
        if !starts {
            changeRecent(client: index, by: -recentWeight(of: job, now: now), now: now)
            changeWork(client: index, by: fairUnits(ofClass: job.cost), adding: false, now: now)
        }
    }

    /// A job that held a slot ended: its work leaves its client, and what it ran is counted.
    mutating func detachRunning(_ job: QueueEntry, servedSeconds: Double, now: Double) {
        guard let index = job.client else { return }
        var entry = storage[client: index]
        entry.running = max(0, entry.running - 1)
        entry.lastActive = now
        if servedSeconds > 0 {
            entry.served = Self.decayed(entry.served, from: entry.servedAt, to: now) + servedSeconds
            entry.servedAt = now
            storage.servedTotal =
                Self.decayed(storage.servedTotal, from: storage.servedTotalAt, to: now) + servedSeconds
            storage.servedTotalAt = now
        }
        storage[client: index] = entry
        changeWork(client: index, by: fairUnits(ofClass: job.cost), adding: false, now: now)
    }

    /// `value`, set at `from`, as it stands at `to` (halving every `halfLife` seconds).
    static func decayed(
        _ value: Double, from: Double, to: Double, halfLife: Double = ClientTableLimits.servedHalfLife
    ) -> Double {
        guard value > 0, to > from else { return value }
        return value * exp2(-(to - from) / halfLife)
    }
}
