// Longer than most files: the queue's core decisions (admit, grant in order, refuse at the
// latest start, end, sweep) share the ring's invariants; batches, classes, the fair share and
// prediction are in their own SlotQueue+… files.

/// The slot queue's decisions — admit or refuse an arriving job, hand out compute slots in
/// arrival order, refuse a waiting job at its latest start, end a job — as a value over its
/// storage and the time it is given.
///
/// It reads no clock and takes no lock: ``AdmissionController`` runs it on the shared segment
/// under the segment's lock, the unit tests on an array. Every decision costs O(slots) whatever
/// the queue's length, and allocates nothing.
struct SlotQueue<Storage: SlotQueueStorage> {
    /// Where the queue lives.
    var storage: Storage
    /// N and the headroom.
    let policy: AdmissionPolicy

    /// What a waiting job should do now.
    enum SlotStep: Equatable {
        /// It holds a slot: run.
        case granted
        /// Sleep until woken by the job that hands it a slot, at most this long (its latest start).
        case wait(seconds: Double)
        /// It could no longer finish within N: it has left the queue.
        case refused(retryAfterSeconds: Int)
        /// A client under its share took its place: it has left the queue.
        case displaced(retryAfterSeconds: Int)
    }

    // MARK: - Arrival

    /// Admits a job that reached nginx at `arrivedAt` (with a slot straight away when one is free
    /// and nobody waits), or refuses it with a prediction; slots handed out, and waiters of jobs
    /// displaced to make room for it, go to `woken`.
    ///
    /// With a `client` and fairness on, a job that would not fit may take the place of waiting
    /// work from the client most over its share (see ``makeRoom(for:cost:arrivedAt:pid:now:woken:)``),
    /// and a refusal is paced by its client's own budget instead of the host's.
    mutating func admit(
        cost: Int, arrivedAt: Double, pid: Int32, mayHold: Bool, client key: ClientKey.Hashed? = nil, now: Double,
        woken: inout WakeList
    ) -> AdmissionController.Admission {
        let client = policy.fairness ? key.map { clientEntry(for: $0, now: now) } : nil
        var (prediction, service) = predict(cost: cost, now: now)
        let room = roomToLeave(for: cost, now: now)
        if room > 0, policy.decide(prediction, serviceSeconds: service, elapsed: now - arrivedAt) == .admit {
            // It fits, but only in the room a class with less of the hashing, refused meanwhile,
            // needs (see SlotQueue+ClassShare).
            var leaving = prediction
            leaving.completesIn += room
            leaving.startsIn += room
            if case .refuse(let retryAfter) = policy.decide(leaving, serviceSeconds: service, elapsed: now - arrivedAt)
            {
                return refuse(
                    leaving, retryAfter, cost: cost, arrivedAt: arrivedAt, pid: pid, late: false, overShare: false,
                    client: client, mayHold: mayHold, now: now)
            }
        }
        if case .refuse(let retryAfter) = policy.decide(prediction, serviceSeconds: service, elapsed: now - arrivedAt) {
            var overShare = false
            if let client {
                switch makeRoom(for: client, cost: cost, arrivedAt: arrivedAt, pid: pid, now: now, woken: &woken) {
                case .made(let made): prediction = made
                case .refused(let over): overShare = over
                }
            }
            if policy.decide(prediction, serviceSeconds: service, elapsed: now - arrivedAt) != .admit {
                let late = policy.decide(prediction, serviceSeconds: service) == .admit
                return refuse(
                    prediction, retryAfter, cost: cost, arrivedAt: arrivedAt, pid: pid, late: late,
                    overShare: overShare, client: client, mayHold: mayHold, now: now)
            }
        }
        let ticket = storage.nextTicket
        guard storage[job: ticket].state == .free else {
            // The ring is sized so that this does not happen; if it does, refuse, never overwrite.
            return refuse(
                prediction, 1, cost: cost, arrivedAt: arrivedAt, pid: pid, late: false, overShare: false,
                client: client, mayHold: mayHold, now: now)
        }
        storage.nextTicket &+= 1
        storage.record(.admitted)
        countClassWork(cost, now: now)
        storage[job: ticket] = QueueEntry(
            state: .queued, pid: pid, cost: cost, ticket: ticket, arrivedAt: arrivedAt, admittedAt: now,
            startedAt: 0, runningSlot: 0, granted: false, client: client)
        count(storage[job: ticket])
        if let client {
            attachWaiting(ticket: ticket, now: now)
            storage[client: client].admitted &+= 1
        }
        grantWaiting(now: now, woken: &woken)
        return .admitted(
            AdmissionController.Ticket(
                ticket: ticket, cost: cost, arrivedAt: arrivedAt, admittedAt: now, prediction: prediction))
    }

    /// Refuses a job without looking at the queue, answered at once.
    mutating func refuseAtOnce(cost: Int, pid: Int32, now: Double) -> AdmissionController.Admission {
        let (prediction, _) = predict(cost: cost, now: now)
        storage.record(.refusedAtOnce(pid: pid, late: false, paced: false))
        return .refused(prediction: prediction, retryAfterSeconds: 1, answerAt: now, reason: .atCapacity)
    }

    private mutating func refuse(
        _ prediction: AdmissionPredictor.Prediction, _ retryAfter: Int, cost: Int, arrivedAt: Double, pid: Int32,
        late: Bool, overShare: Bool, client: Int?, mayHold: Bool, now: Double
    ) -> AdmissionController.Admission {
        let reason: AdmissionController.RefusalReason = overShare ? .overShare : .atCapacity
        // A class refused for want of room: others with more of the hashing leave it some.
        if !overShare, !late { storage[classRefusedAt: cost] = now }
        if let client {
            var entry = storage[client: client]
            if overShare { entry.refusedOverShare &+= 1 } else { entry.refusedAtCapacity &+= 1 }
            storage[client: client] = entry
        }
        guard mayHold else {
            storage.record(.refusedAtOnce(pid: pid, late: late, paced: false, overShare: overShare))
            return .refused(prediction: prediction, retryAfterSeconds: retryAfter, answerAt: now, reason: reason)
        }
        // The budget that slows a client re-sending at once is that client's own: nobody else's
        // refusal waits for it.
        let budget = client.map { storage[client: $0].refusalTheoreticalArrival } ?? storage.refusalTheoreticalArrival
        let paced = policy.paceRefusal(now: now, arrival: arrivedAt, theoreticalArrival: budget)
        if let client {
            storage[client: client].refusalTheoreticalArrival = paced.newTAT
        } else {
            storage.refusalTheoreticalArrival = paced.newTAT
        }
        storage.record(.refusedAtOnce(pid: pid, late: late, paced: paced.answerAt > now, overShare: overShare))
        return .refused(prediction: prediction, retryAfterSeconds: retryAfter, answerAt: paced.answerAt, reason: reason)
    }

    // MARK: - Waiting and ending

    /// Where a waiting job stands at `now`; at its latest start without a slot it leaves, refused.
    mutating func step(_ ticket: AdmissionController.Ticket, pid: Int32, now: Double) -> SlotStep {
        let job = storage[job: ticket.ticket]
        let service = seconds(forClass: ticket.cost)
        guard job.ticket == ticket.ticket, job.state != .free else {
            if job.ticket == ticket.ticket, job.displaced {
                return .displaced(retryAfterSeconds: retryAfter(ticket, now))
            }
            // Swept as if its process had died; it has not, so it is too late to run.
            return .refused(retryAfterSeconds: 1)
        }
        if job.state == .running { return .granted }
        let latestStart = ticket.arrivedAt + policy.latestStart(serviceSeconds: service)
        if now < latestStart { return .wait(seconds: latestStart - now) }
        leaveQueue(ticket.ticket, now: now)
        storage.record(.refusedAtDeadline(pid: pid))
        return .refused(retryAfterSeconds: retryAfter(ticket, now))
    }

    /// When a job that left the queue should come back: once the work ahead will have drained
    /// enough for it to fit, at least a second.
    private func retryAfter(_ ticket: AdmissionController.Ticket, _ now: Double) -> Int {
        let (prediction, service) = predict(cost: ticket.cost, now: now)
        if case .refuse(let seconds) = policy.decide(prediction, serviceSeconds: service) { return seconds }
        return 1
    }

    /// Ends a job that held a slot: frees the slot for the next waiter and teaches the estimate
    /// how long a job holds one (wake-ups and a busy machine included).
    mutating func finish(
        _ ticket: AdmissionController.Ticket, serviceSeconds: Double, outcome: AdmissionController.JobOutcome,
        pid: Int32, now: Double, woken: inout WakeList
    ) {
        let job = storage[job: ticket.ticket]
        guard job.ticket == ticket.ticket, job.state == .running else { return }
        let held = now - job.startedAt
        let batchSize = job.batchSize
        // A batch member is served its share of the slot's time.
        let slotFreed = release(
            ticket.ticket, servedSeconds: serviceSeconds / Double(max(1, batchSize)), now: now)
        // An overrun teaches the most: the machine is slower than the estimate says.
        if outcome != .failed, Self.isArgon2(ticket.cost) {
            observeArgon2(seconds: max(held, serviceSeconds), class: ticket.cost)
        } else if outcome != .failed, batchSize <= 1 {
            var estimate = ServiceTimeEstimate(unitSeconds: storage.unitSeconds, samples: storage.estimateSamples)
            estimate.observe(seconds: max(held, serviceSeconds), atCost: ticket.cost)
            storage.unitSeconds = estimate.unitSeconds
            storage.estimateSamples = estimate.samples
        } else if outcome != .failed, slotFreed {
            // The batch's last member: the slot was held this long for all of them.
            observeBatch(lanes: batchSize, seconds: max(held, serviceSeconds), cost: ticket.cost)
        }
        if outcome == .delivered, Self.isArgon2(ticket.cost) { storage.record(.argon2Delivered) }
        storage.record(
            .ended(
                pid: pid, outcome: outcome, serviceSeconds: serviceSeconds,
                responseSeconds: outcome == .overran ? nil : now - ticket.arrivedAt))
        grantWaiting(now: now, woken: &woken)
    }

    /// Hands free slots to waiting jobs in ticket order; their tickets go to `woken`.
    mutating func grantWaiting(now: Double, woken: inout WakeList) {
        // The ring holds at most its capacity of tickets: never walk further back than that,
        // whatever the tickets read.
        let capacity = UInt64(storage.jobCapacity)
        if storage.grantTicket < storage.nextTicket, storage.nextTicket - storage.grantTicket > capacity {
            storage.grantTicket = storage.nextTicket - capacity
        }
        while storage.runningCount < storage.slots, storage.grantTicket < storage.nextTicket {
            let ticket = storage.grantTicket
            let job = storage[job: ticket]
            storage.grantTicket += 1
            // A job that already left (refused at its deadline, or swept) is passed over.
            guard job.ticket == ticket, job.state == .queued else { continue }
            // Slots go in arrival order: a job whose memory does not fit yet waits for running
            // jobs to free theirs, and the jobs behind it wait with it.
            guard memoryFits(class: job.cost),
                let slot = (0..<Storage.maximumSlots).first(where: { storage[running: $0].ticket == 0 })
            else {
                storage.grantTicket -= 1
                return
            }
            let memory = memoryKiB(ofClass: job.cost)
            storage.memoryInUseKiB = min(storage.memoryInUseKiB, Int.max - memory) + memory
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Storage.maximumBatch - 1) { riders in
                let count = batchRiders(for: job, now: now, into: riders)
                storage[running: slot] = RunningEntry(
                    ticket: ticket, cost: job.cost, pid: job.pid, startedAt: now, lanes: count + 1,
                    membersLeft: count + 1)
                storage.runningCount += 1
                start(ticket, slot: slot, batchHead: ticket, batchSize: count + 1, now: now, woken: &woken)
                for index in 0..<count {
                    start(riders[index], slot: slot, batchHead: ticket, batchSize: count + 1, now: now, woken: &woken)
                }
            }
        }
    }

    /// Hands a waiting job its part of a slot: it runs from `now` in the batch `batchHead` leads.
    private mutating func start(
        _ ticket: UInt64, slot: Int, batchHead: UInt64, batchSize: Int, now: Double, woken: inout WakeList
    ) {
        uncount(storage[job: ticket])
        detachWaiting(ticket: ticket, starts: true, now: now)
        var job = storage[job: ticket]
        job.state = .running
        job.runningSlot = slot
        job.startedAt = now
        job.batchHead = batchHead
        job.batchSize = batchSize
        job.granted = true
        storage[job: ticket] = job
        storage.record(.granted(at: now, wait: now - job.admittedAt))
        woken.append(ticket)
    }

    /// Frees the running and waiting jobs whose pid `matches` (their process died), hands freed
    /// slots on, and returns how many it freed. It looks at the slots and the waiting part of the ring only.
    mutating func freeJobs(now: Double, woken: inout WakeList, matching matches: (Int32) -> Bool) -> Int {
        var freed = 0
        for index in 0..<Storage.maximumSlots {
            let slot = storage[running: index]
            guard slot.ticket != 0, matches(slot.pid) else { continue }
            // Its batch's members lie within the window behind the first, in this slot.
            var ticket = slot.ticket
            let end = min(storage.nextTicket, slot.ticket &+ Self.batchWindow)
            while ticket < end, storage[running: index].ticket == slot.ticket {
                let job = storage[job: ticket]
                if job.ticket == ticket, job.state == .running, job.runningSlot == index,
                    job.batchHead == slot.ticket || ticket == slot.ticket
                {
                    release(ticket, servedSeconds: 0, now: now)
                    freed += 1
                }
                ticket &+= 1
            }
            if storage[running: index].ticket == slot.ticket {
                // Members the walk did not find (the entries were scribbled over): the slot goes anyway.
                storage[running: index] = .free
                if storage.runningCount > 0 { storage.runningCount -= 1 }
                releaseMemory(ofClass: slot.cost)
                freed = max(freed, 1)
            }
        }
        var ticket = storage.grantTicket
        let end = min(storage.nextTicket, storage.grantTicket &+ UInt64(storage.jobCapacity))
        while ticket < end {
            let job = storage[job: ticket]
            if job.ticket == ticket, job.state == .queued, matches(job.pid) {
                leaveQueue(ticket, now: now)
                freed += 1
            }
            ticket += 1
        }
        grantWaiting(now: now, woken: &woken)
        return freed
    }

    // MARK: - Bookkeeping

    /// Takes a waiting job out of the queue for good.
    mutating func leaveQueue(_ ticket: UInt64, now: Double) {
        var job = storage[job: ticket]
        guard job.state == .queued else { return }
        detachWaiting(ticket: ticket, starts: false, now: now)
        job = storage[job: ticket]
        job.state = .free
        storage[job: ticket] = job
        uncount(job)
    }

    /// Puts back a waiting job that ``leaveQueue(_:)`` just took out (room could not be made).
    mutating func rejoinQueue(_ ticket: UInt64, now: Double) {
        var job = storage[job: ticket]
        guard job.state == .free, job.ticket == ticket else { return }
        job.state = .queued
        storage[job: ticket] = job
        count(job)
        attachWaiting(ticket: ticket, now: now)
    }

    /// Puts a waiting job in the counts that predictions read: all, by cost, and by process and cost.
    private mutating func count(_ job: QueueEntry) {
        let bucket = Storage.processBucket(pid: job.pid)
        storage.queuedCount += 1
        storage.setQueuedCount(storage.queuedCount(atCost: job.cost) + 1, atCost: job.cost)
        storage.setQueuedCount(
            storage.queuedCount(atCost: job.cost, process: bucket) + 1, atCost: job.cost, process: bucket)
    }

    /// Takes a waiting job out of the counts that predictions read.
    private mutating func uncount(_ job: QueueEntry) {
        let bucket = Storage.processBucket(pid: job.pid)
        if storage.queuedCount > 0 { storage.queuedCount -= 1 }
        let count = storage.queuedCount(atCost: job.cost)
        if count > 0 { storage.setQueuedCount(count - 1, atCost: job.cost) }
        let ofProcess = storage.queuedCount(atCost: job.cost, process: bucket)
        if ofProcess > 0 { storage.setQueuedCount(ofProcess - 1, atCost: job.cost, process: bucket) }
    }

    /// Ends a running job's part of its slot, and frees the slot when it was the last of its
    /// batch (the caller hands it on with ``grantWaiting(now:woken:)``); returns whether it did.
    @discardableResult
    private mutating func release(_ ticket: UInt64, servedSeconds: Double, now: Double) -> Bool {
        var job = storage[job: ticket]
        guard job.state == .running else { return false }
        detachRunning(job, servedSeconds: servedSeconds, now: now)
        let index = job.runningSlot % Storage.maximumSlots
        var slot = storage[running: index]
        var freed = false
        if slot.ticket != 0, slot.ticket == (job.batchHead == 0 ? job.ticket : job.batchHead) {
            slot.membersLeft = max(0, slot.membersLeft - 1)
            if slot.membersLeft == 0 {
                releaseMemory(ofClass: slot.cost)
                slot = .free
                if storage.runningCount > 0 { storage.runningCount -= 1 }
                freed = true
            }
            storage[running: index] = slot
        }
        job.state = .free
        storage[job: ticket] = job
        return freed
    }

    /// Gives back the memory a slot's job of class `index` held.
    private mutating func releaseMemory(ofClass index: Int) {
        storage.memoryInUseKiB = max(0, storage.memoryInUseKiB - memoryKiB(ofClass: index))
    }
}
