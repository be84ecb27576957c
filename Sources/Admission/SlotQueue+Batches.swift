/// Batches: a slot handed to a job may take more waiting jobs with it, run side by side by the
/// multi-lane bcrypt core in one thread of the job's process.
///
/// A batch holds jobs of one process (passwords never leave it, so the segment holds no secret)
/// and one cost, taken oldest first from a bounded window of the ring behind the job that leads
/// it. A batch is formed only when its leader would finish within N as predicted and every other
/// member would still do so if the batch ran 15% longer, and only at a size that hashes more per
/// second than a job alone: a lone job on an idle host runs alone, as fast as ever.
extension SlotQueue {
    /// Ring entries behind a batch's first job that may hold its other members: a bound on
    /// every walk that forms or frees a batch, whatever the queue's length.
    static var batchWindow: UInt64 { 64 }

    /// How much longer than predicted a batch may run and still end within N: what forming one
    /// allows for a busy machine.
    static var batchMargin: Double { 1.15 }

    /// Seconds a batch of `lanes` jobs at `cost` holds a slot (`lanes` 1: a job alone).
    func batchSeconds(lanes: Int, cost: Int) -> Double {
        let single = self.seconds(forClass: cost)
        return lanes > 1 ? single * batchFactor(lanes: lanes) : single
    }

    /// How many jobs' time alone a batch of `lanes` takes: as learnt, or a cautious prior until
    /// then; always within 1...lanes, whatever the storage reads.
    func batchFactor(lanes: Int) -> Double {
        guard lanes > 1 else { return 1 }
        let learnt = storage[batch: min(lanes, Storage.maximumBatch)].factor
        let factor = learnt.isFinite && learnt > 0 ? learnt : Self.priorBatchFactor(lanes: lanes)
        return min(max(factor, 1), Double(lanes))
    }

    /// Before a batch of this size has run: a speed-up of 1.35× for two lanes and 0.35 more per
    /// lane after, below what the core measures on the machines we know (1.6× for two, 2.4×
    /// for four), so that the first batches finish earlier than predicted, not later.
    static func priorBatchFactor(lanes: Int) -> Double {
        Double(lanes) / (1 + 0.35 * Double(lanes - 1))
    }

    /// Teaches the estimate how long a batch of `lanes` held its slot, in jobs' time alone.
    mutating func observeBatch(lanes: Int, seconds: Double, cost: Int) {
        let single = self.seconds(forClass: cost)
        guard lanes > 1, lanes <= Storage.maximumBatch, seconds.isFinite, seconds > 0, single > 0 else { return }
        var learnt = storage[batch: lanes]
        let observed = min(max(seconds / single, 1), Double(lanes))
        let current = learnt.factor.isFinite && learnt.factor > 0 ? learnt.factor : Self.priorBatchFactor(lanes: lanes)
        // The first observations weigh more, as for the estimate of a job alone.
        let weight = max(0.1, 1 / Double(learnt.samples + 2))
        learnt.factor = current + weight * (observed - current)
        learnt.samples += 1
        storage[batch: lanes] = learnt
    }

    /// The tickets of the running batch that `head` leads in `slot`: they lie within the window
    /// behind it.
    func batchMembers(head: UInt64, slot: Int) -> [UInt64] {
        var members: [UInt64] = []
        var ticket = head
        let end = min(storage.nextTicket, head &+ Self.batchWindow)
        while ticket < end {
            let job = storage[job: ticket]
            if job.ticket == ticket, job.state == .running, job.batchHead == head, job.runningSlot == slot {
                members.append(ticket)
            }
            ticket &+= 1
        }
        return members
    }

    /// The other members of the batch `head` leads as it is handed a slot at `now`, written to
    /// `riders`; returns how many. It takes waiting jobs of `head`'s process and cost, oldest
    /// first, and keeps the size that hashes the most per second among those at which every
    /// member still finishes within N.
    func batchRiders(for head: QueueEntry, now: Double, into riders: UnsafeMutableBufferPointer<UInt64>) -> Int {
        let lanes = min(policy.lanes, riders.count + 1)
        // The multi-lane core is bcrypt's: argon2id jobs run alone.
        guard lanes > 1, !Self.isArgon2(head.cost) else { return 0 }
        var found = 0
        var ticket = head.ticket &+ 1
        let end = min(storage.nextTicket, head.ticket &+ Self.batchWindow)
        while ticket < end, found < lanes - 1 {
            let job = storage[job: ticket]
            if job.ticket == ticket, job.state == .queued, job.pid == head.pid, job.cost == head.cost {
                riders[found] = ticket
                found += 1
            }
            ticket &+= 1
        }
        var best = 0
        var bestRate = 1.0
        var earliestRider = Double.infinity
        for count in 0..<found {
            earliestRider = min(earliestRider, storage[job: riders[count]].arrivedAt)
            let size = count + 2
            // A margin on the batch's own time for the riders: one that runs long costs every
            // member its answer, not one job. The leader, whose turn it is, needs only the
            // batch's predicted time: it is the one that is late when the queue runs late, and
            // leaving it alone or in a small batch would slow the queue behind it further, until
            // under a long overload most slots ran small batches. A margin on N instead would
            // leave late leaders alone too.
            let seconds = batchSeconds(lanes: size, cost: head.cost)
            guard now <= head.arrivedAt + policy.latestStart(serviceSeconds: seconds),
                now <= earliestRider + policy.latestStart(serviceSeconds: seconds * Self.batchMargin)
            else { break }
            let rate = Double(size) / batchFactor(lanes: size)
            if rate > bestRate {
                best = count + 1
                bestRate = rate
            }
        }
        return best
    }
}
