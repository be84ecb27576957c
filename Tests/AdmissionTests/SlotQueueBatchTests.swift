// Longer than most files: one suite over batches, whose cases share a queue built to the same made-up clock.
import Foundation
import Testing

@testable import Admission

/// Batches on plain arrays and a made-up clock: which waiting jobs a slot takes together, when
/// a batch is not formed, how the slot is given back, what the queue learns and predicts.
/// One job alone holds a slot 0.125 s at cost 4; the priors are 1.48, 1.76 and 1.95 jobs' time
/// for batches of two, three and four.
@Suite("SlotQueue batches: one process, one cost, oldest first, never past N")
struct SlotQueueBatchTests {
    typealias Queue = SlotQueue<ArrayQueueStorage>

    static let service = 0.125

    static func makeQueue(slots: Int = 1, deadline: Double = 8, headroom: Double = 0.9, lanes: Int = 4) -> Queue {
        SlotQueue(
            storage: ArrayQueueStorage(slots: slots, serviceSeconds: service),
            policy: AdmissionPolicy(deadline: deadline, headroom: headroom, lanes: lanes))
    }

    static func admit(
        _ queue: inout Queue, cost: Int = 4, pid: Int32 = 7, arrivedAt: Double? = nil, now: Double,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> (AdmissionController.Ticket, woken: [UInt64]) {
        var woken = WakeList()
        let admission = queue.admit(
            cost: cost, arrivedAt: arrivedAt ?? now, pid: pid, mayHold: true, now: now, woken: &woken)
        guard case .admitted(let ticket) = admission else {
            throw Refused(admission: admission)
        }
        return (ticket, SlotQueueTests.tickets(woken))
    }

    struct Refused: Error, CustomStringConvertible {
        let admission: AdmissionController.Admission
        var description: String { "expected an admission, got \(admission)" }
    }

    static func finish(
        _ queue: inout Queue, _ ticket: AdmissionController.Ticket, service: Double = 0.125, pid: Int32 = 7,
        outcome: AdmissionController.JobOutcome = .delivered, now: Double
    ) -> [UInt64] {
        var woken = WakeList()
        queue.finish(ticket, serviceSeconds: service, outcome: outcome, pid: pid, now: now, woken: &woken)
        return SlotQueueTests.tickets(woken)
    }

    /// A job running alone since 0, then `count` more of pid 7 at cost 4 waiting from 0.01.
    static func queueBehindOne(_ queue: inout Queue, count: Int, arrivedAt: Double? = nil) throws -> (
        running: AdmissionController.Ticket, waiting: [AdmissionController.Ticket]
    ) {
        let (running, woken) = try admit(&queue, now: 0)
        #expect(woken == [running.ticket])
        let waiting = try (0..<count).map { _ in try admit(&queue, arrivedAt: arrivedAt, now: 0.01).0 }
        return (running, waiting)
    }

    @Test("a lone job on an idle queue runs alone, with lanes to spare")
    func loneJobRunsAlone() throws {
        var queue = Self.makeQueue()
        let (idle, service) = queue.predict(cost: 4, now: 0)
        #expect(service == Self.service && idle.completesIn == Self.service, "priced as a job alone")
        let (ticket, woken) = try Self.admit(&queue, now: 0)
        #expect(woken == [ticket.ticket])
        #expect(queue.storage[running: 0].lanes == 1 && queue.storage[job: ticket.ticket].batchSize == 1)
        // The next one would wait, and might be joined: priced as a full batch, with the margin
        // a batch forms with.
        let full = Self.service * Queue.priorBatchFactor(lanes: 4)
        #expect(abs(queue.predict(cost: 4, now: 0).service - full * Queue.batchMargin) < 1e-12)
    }

    @Test("a freed slot takes the next job and up to three more of its process and cost, in one batch")
    func fullBatch() throws {
        var queue = Self.makeQueue()
        let (running, waiting) = try Self.queueBehindOne(&queue, count: 5)
        let woken = Self.finish(&queue, running, now: 0.125)
        #expect(woken == waiting.prefix(4).map(\.ticket))
        let slot = queue.storage[running: 0]
        #expect(slot.ticket == waiting[0].ticket && slot.lanes == 4 && slot.membersLeft == 4)
        for member in waiting.prefix(4) {
            let job = queue.storage[job: member.ticket]
            #expect(job.state == .running && job.batchHead == waiting[0].ticket && job.batchSize == 4 && job.granted)
            #expect(queue.step(member, pid: 7, now: 0.125) == .granted)
        }
        #expect(queue.storage.runningCount == 1 && queue.storage.queuedCount == 1)
        #expect(queue.storage[job: waiting[4].ticket].state == .queued)
    }

    @Test("with lanes 1 every job runs alone, in arrival order")
    func oneLane() throws {
        var queue = Self.makeQueue(lanes: 1)
        let (running, waiting) = try Self.queueBehindOne(&queue, count: 3)
        #expect(Self.finish(&queue, running, now: 0.125) == [waiting[0].ticket])
        #expect(queue.storage[running: 0].lanes == 1)
    }

    @Test("a batch takes only jobs of the leader's process and cost, oldest first")
    func sameProcessAndCost() throws {
        var queue = Self.makeQueue(lanes: 3)
        let (running, _) = try Self.admit(&queue, now: 0)
        let leader = try Self.admit(&queue, now: 0.01).0
        let otherProcess = try Self.admit(&queue, pid: 8, now: 0.01).0
        let otherCost = try Self.admit(&queue, cost: 5, now: 0.01).0
        let first = try Self.admit(&queue, now: 0.01).0
        let second = try Self.admit(&queue, now: 0.01).0
        let third = try Self.admit(&queue, now: 0.01).0
        #expect(Self.finish(&queue, running, now: 0.125) == [leader.ticket, first.ticket, second.ticket])
        #expect(queue.storage[job: otherProcess.ticket].state == .queued)
        #expect(queue.storage[job: otherCost.ticket].state == .queued)
        #expect(queue.storage[job: third.ticket].state == .queued)
        // The slot, once free, goes on in arrival order: to the other process's job.
        var woken: [UInt64] = []
        for member in [leader, first, second] { woken += Self.finish(&queue, member, now: 0.4) }
        #expect(woken == [otherProcess.ticket])
    }

    @Test("a batch whose riders would miss N if it ran 15% long is not formed; a smaller one that fits is")
    func deadlineBoundsTheBatch() throws {
        // N = 1: a job must be answered 0.95 s after arrival. Latest starts for a leader that
        // arrived at 0, with the batch's time 15% longer than predicted: 0.737 in a batch of two
        // (0.185 s), 0.696 of three (0.221 s), 0.669 of four (0.244 s).
        var queue = Self.makeQueue(deadline: 1, headroom: 1)
        let (running, waiting) = try Self.queueBehindOne(&queue, count: 4, arrivedAt: 0)
        // A failed job teaches the estimate nothing, so the prices above stand.
        let woken = Self.finish(&queue, running, outcome: .failed, now: 0.72)
        #expect(woken == [waiting[0].ticket, waiting[1].ticket])
        #expect(queue.storage[running: 0].lanes == 2)

        var late = Self.makeQueue(deadline: 1, headroom: 1)
        let (lateRunning, lateWaiting) = try Self.queueBehindOne(&late, count: 4, arrivedAt: 0)
        #expect(Self.finish(&late, lateRunning, outcome: .failed, now: 0.74) == [lateWaiting[0].ticket])
        #expect(late.storage[running: 0].lanes == 1)
    }

    @Test("a late leader still leads a full batch that ends in time as predicted; its riders keep the 15% margin")
    func lateLeaderLeadsFullBatch() throws {
        // N = 1: answers are due 0.95 s after arrival. The leader arrived at 0; a batch of four
        // (0.244 s as predicted) must start by 0.706 for it, of three (0.221 s) by 0.729. The
        // riders arrived at 0.2, so that their margin (0.281 s for four) leaves them until 0.870.
        func queue(endingFirstAt end: Double) throws -> (Queue, leader: UInt64, woken: [UInt64]) {
            var queue = Self.makeQueue(deadline: 1, headroom: 1)
            let (running, _) = try Self.admit(&queue, arrivedAt: 0, now: 0)
            let leader = try Self.admit(&queue, arrivedAt: 0, now: 0.01).0
            for _ in 0..<3 { _ = try Self.admit(&queue, arrivedAt: 0.2, now: 0.2) }
            let woken = Self.finish(&queue, running, outcome: .failed, now: end)
            return (queue, leader.ticket, woken)
        }
        let (full, leader, woken) = try queue(endingFirstAt: 0.70)
        #expect(woken.count == 4 && woken.first == leader, "\(woken)")
        #expect(full.storage[running: 0].lanes == 4)
        // Past 0.706 four would end late as predicted: three is the most that fits.
        let (three, _, fewer) = try queue(endingFirstAt: 0.72)
        #expect(fewer.count == 3 && three.storage[running: 0].lanes == 3, "\(fewer)")
    }

    @Test("the slot is held until the batch's last member ends; then it goes to the next waiter")
    func slotHeldUntilLastMember() throws {
        var queue = Self.makeQueue()
        let (running, waiting) = try Self.queueBehindOne(&queue, count: 5)
        _ = Self.finish(&queue, running, now: 0.125)
        for member in waiting.prefix(3) {
            #expect(Self.finish(&queue, member, service: 0.25, now: 0.375).isEmpty)
            #expect(queue.storage.runningCount == 1 && queue.storage[running: 0].ticket == waiting[0].ticket)
        }
        #expect(queue.storage[running: 0].membersLeft == 1)
        #expect(Self.finish(&queue, waiting[3], service: 0.25, now: 0.375) == [waiting[4].ticket])
        #expect(queue.storage[running: 0].ticket == waiting[4].ticket && queue.storage[running: 0].lanes == 1)
        #expect(queue.storage.runningCount == 1 && queue.storage.queuedCount == 0)
    }

    @Test("a batch teaches its factor from the time it held the slot, and leaves the estimate of a job alone")
    func learnsBatchFactor() throws {
        var queue = Self.makeQueue()
        let (running, waiting) = try Self.queueBehindOne(&queue, count: 4)
        _ = Self.finish(&queue, running, now: 0.125)
        let unit = queue.storage.unitSeconds
        let prior = Queue.priorBatchFactor(lanes: 4)
        // The batch held its slot 0.25 s: two jobs' time alone.
        for member in waiting { _ = Self.finish(&queue, member, service: 0.25, now: 0.375) }
        #expect(queue.storage.unitSeconds == unit)
        let learnt = queue.storage[batch: 4]
        #expect(learnt.samples == 1)
        #expect(abs(learnt.factor - (prior + 0.5 * (2 - prior))) < 1e-12)
        #expect(abs(queue.batchSeconds(lanes: 4, cost: 4) - Self.service * learnt.factor) < 1e-12)
    }

    @Test("what storage reads for a factor is kept within 1...lanes")
    func factorBounded() {
        var queue = Self.makeQueue()
        queue.storage[batch: 4] = BatchFactor(factor: 0.01, samples: 9)
        #expect(queue.batchFactor(lanes: 4) == 1)
        queue.storage[batch: 4] = BatchFactor(factor: .infinity, samples: 9)
        #expect(queue.batchFactor(lanes: 4) == Queue.priorBatchFactor(lanes: 4))
        queue.storage[batch: 4] = BatchFactor(factor: 40, samples: 9)
        #expect(queue.batchFactor(lanes: 4) == 4)
    }

    @Test("the waiting jobs are predicted to drain in batches, and a newcomer that waits is priced as a full batch")
    func predictionInBatches() throws {
        var batched = Self.makeQueue()
        var alone = Self.makeQueue(lanes: 1)
        _ = try Self.queueBehindOne(&batched, count: 8)
        _ = try Self.queueBehindOne(&alone, count: 8)
        let full = Self.service * Queue.priorBatchFactor(lanes: 4)
        // The running job has 0.115 s left, two full batches wait, then the newcomer's, priced
        // with the margin a batch forms with.
        let (prediction, service) = batched.predict(cost: 4, now: 0.01)
        #expect(abs(prediction.startsIn - (0.115 + 2 * full)) < 1e-9)
        #expect(abs(prediction.completesIn - (0.115 + 2 * full + full * Queue.batchMargin)) < 1e-9)
        #expect(abs(service - full * Queue.batchMargin) < 1e-12)
        let (single, _) = alone.predict(cost: 4, now: 0.01)
        #expect(abs(single.completesIn - (0.115 + 9 * Self.service)) < 1e-9)
        #expect(prediction.completesIn < single.completesIn)
    }

    @Test("jobs of two processes drain in batches of each process, never mixed: two half batches, not one full")
    func predictionPerProcess() throws {
        var mixed = Self.makeQueue()
        var one = Self.makeQueue()
        _ = try Self.queueBehindOne(&mixed, count: 0)
        _ = try Self.queueBehindOne(&one, count: 4)
        for pid: Int32 in [7, 8, 7, 8] { _ = try Self.admit(&mixed, pid: pid, now: 0.01) }
        let full = Self.service * Queue.priorBatchFactor(lanes: 4)
        let half = Self.service * Queue.priorBatchFactor(lanes: 2)
        // The running job has 0.115 s left; then pid 7's two, then pid 8's two, then the newcomer.
        let (split, _) = mixed.predict(cost: 4, now: 0.01)
        #expect(abs(split.startsIn - (0.115 + 2 * half)) < 1e-9, "\(split)")
        // Four of one process: one full batch.
        let (together, _) = one.predict(cost: 4, now: 0.01)
        #expect(abs(together.startsIn - (0.115 + full)) < 1e-9, "\(together)")
        #expect(split.startsIn > together.startsIn)
        // And so they run: pid 7's pair takes the slot, pid 8's waits for the next.
        #expect(mixed.storage.queuedCount(atCost: 4, process: ArrayQueueStorage.processBucket(pid: 8)) == 2)
    }

    @Test("a running batch frees its slot at its own predicted time")
    func runningBatchPrediction() throws {
        var queue = Self.makeQueue()
        let (running, _) = try Self.queueBehindOne(&queue, count: 4)
        _ = Self.finish(&queue, running, now: 0.125)
        let full = Self.service * Queue.priorBatchFactor(lanes: 4)
        let (prediction, _) = queue.predict(cost: 4, now: 0.2)
        #expect(abs(prediction.startsIn - (full - 0.075)) < 1e-9)
    }

    @Test("when its process dies, every member of a batch is freed with the slot")
    func deadProcessFreesBatch() throws {
        var queue = Self.makeQueue(slots: 2)
        let other = try Self.admit(&queue, pid: 8, now: 0).0
        let (running, waiting) = try Self.queueBehindOne(&queue, count: 5)
        _ = Self.finish(&queue, running, now: 0.125)
        #expect(queue.storage.runningCount == 2)
        var woken = WakeList()
        let freed = queue.freeJobs(now: 0.2, woken: &woken) { $0 == 7 }
        #expect(freed == 5)
        #expect(queue.storage.runningCount == 1 && queue.storage.queuedCount == 0)
        #expect(queue.storage.runningTickets == [other.ticket])
        for member in waiting { #expect(queue.storage[job: member.ticket].state == .free) }
    }

    @Test("with fairness on, every member counts as running for its client until it ends")
    func fairShareCounts() throws {
        var queue = SlotQueue(
            storage: ArrayQueueStorage(slots: 1, serviceSeconds: Self.service),
            policy: AdmissionPolicy(deadline: 8, headroom: 0.9, fairness: true, lanes: 4))
        let key = ClientKey(remoteAddress: "192.0.2.1").hashed(seed: 1)
        var tickets: [AdmissionController.Ticket] = []
        for index in 0..<5 {
            var woken = WakeList()
            let now = index == 0 ? 0 : 0.01
            let admission = queue.admit(
                cost: 4, arrivedAt: now, pid: 7, mayHold: true, client: key, now: now, woken: &woken)
            guard case .admitted(let ticket) = admission else { throw Refused(admission: admission) }
            tickets.append(ticket)
        }
        _ = Self.finish(&queue, tickets[0], now: 0.125)
        let client = try #require(queue.storage[job: tickets[1].ticket].client)
        #expect(queue.storage[client: client].running == 4 && queue.storage[client: client].queued == 0)
        for member in tickets.dropFirst() { _ = Self.finish(&queue, member, service: 0.25, now: 0.375) }
        #expect(queue.storage[client: client].running == 0)
        #expect(queue.storage.totalWork == 0)
    }
}
