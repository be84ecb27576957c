// Longer than most files: one suite over the queue's core decisions, each case on the same made-up clock.
import Foundation
import Testing

@testable import Admission

/// The slot queue's decisions on plain arrays and a made-up clock: no shared memory, no lock,
/// no threads. Times are binary fractions, so that every sum below is exact.
@Suite("SlotQueue: admit, grant in arrival order, refuse at the latest start")
struct SlotQueueTests {
    typealias Queue = SlotQueue<ArrayQueueStorage>

    static func makeQueue(
        slots: Int, deadline: Double, service: Double = 0.125, headroom: Double = 0.9, refusalRate: Double = 0,
        jobCapacity: Int = 64
    ) -> Queue {
        SlotQueue(
            storage: ArrayQueueStorage(slots: slots, jobCapacity: jobCapacity, serviceSeconds: service),
            policy: AdmissionPolicy(deadline: deadline, headroom: headroom, refusalRate: refusalRate))
    }

    /// Admits and returns the ticket and who was woken, or records an issue.
    static func admit(
        _ queue: inout Queue, cost: Int = 4, pid: Int32 = 7, arrivedAt: Double? = nil, now: Double,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> (AdmissionController.Ticket, woken: [UInt64])? {
        var woken = WakeList()
        let admission = queue.admit(
            cost: cost, arrivedAt: arrivedAt ?? now, pid: pid, mayHold: true, now: now, woken: &woken)
        guard case .admitted(let ticket) = admission else {
            Issue.record("refused: \(admission)", sourceLocation: sourceLocation)
            return nil
        }
        return (ticket, tickets(woken))
    }

    /// Offers a job that must be refused; returns its Retry-After and when it is answered.
    static func refusal(
        _ queue: inout Queue, arrivedAt: Double, mayHold: Bool = true, now: Double
    ) throws -> (retryAfter: Int, answerAt: Double) {
        var woken = WakeList()
        let admission = queue.admit(cost: 4, arrivedAt: arrivedAt, pid: 7, mayHold: mayHold, now: now, woken: &woken)
        guard case .refused(_, let retryAfter, let answerAt, _) = admission else {
            throw RefusalExpected(admission: admission)
        }
        return (retryAfter, answerAt)
    }

    struct RefusalExpected: Error, CustomStringConvertible {
        let admission: AdmissionController.Admission
        var description: String { "expected a refusal, got \(admission)" }
    }

    static func finish(
        _ queue: inout Queue, _ ticket: AdmissionController.Ticket, service: Double = 0.125,
        outcome: AdmissionController.JobOutcome = .delivered, now: Double
    ) -> [UInt64] {
        var woken = WakeList()
        queue.finish(ticket, serviceSeconds: service, outcome: outcome, pid: 7, now: now, woken: &woken)
        return tickets(woken)
    }

    static func tickets(_ woken: WakeList) -> [UInt64] {
        var tickets: [UInt64] = []
        woken.forEachTicket { tickets.append($0) }
        return tickets
    }

    @Test("a job that finds a free slot and nobody waiting holds it at once; its waiter is woken once")
    func freeSlotAtOnce() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 2)
        let (ticket, woken) = try #require(Self.admit(&queue, now: 100))
        #expect(woken == [ticket.ticket])
        #expect(queue.step(ticket, pid: 7, now: 100) == .granted)
        #expect(queue.storage.runningTickets == [ticket.ticket] && queue.storage.queuedCount == 0)
        #expect(queue.storage[job: ticket.ticket].granted)
        #expect(queue.storage.events == [.admitted, .granted(at: 100, wait: 0)])
    }

    @Test("slots go strictly in arrival order, whatever the cost; each end wakes exactly the next")
    func arrivalOrder() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 100)
        var tickets: [AdmissionController.Ticket] = []
        for index in 0..<6 {
            let (ticket, woken) = try #require(
                Self.admit(&queue, cost: 4 + index % 2, now: 100 + Double(index) / 64))
            #expect(woken == (index == 0 ? [ticket.ticket] : []))
            tickets.append(ticket)
        }
        #expect(queue.storage.waitingTickets == tickets.dropFirst().map(\.ticket))
        #expect(queue.storage.queuedCount(atCost: 4) == 2 && queue.storage.queuedCount(atCost: 5) == 3)
        for index in 0..<5 {
            let now = 101 + Double(index) / 4
            #expect(queue.step(tickets[index + 1], pid: 7, now: now) != .granted)
            #expect(Self.finish(&queue, tickets[index], now: now) == [tickets[index + 1].ticket])
            #expect(queue.step(tickets[index + 1], pid: 7, now: now) == .granted)
            if index + 2 < tickets.count {
                #expect(queue.step(tickets[index + 2], pid: 7, now: now) != .granted)
            }
        }
        #expect(Self.finish(&queue, tickets[5], now: 103).isEmpty)
        #expect(queue.storage.runningCount == 0 && queue.storage.queuedCount == 0)
        #expect(queue.storage.queuedByCost.allSatisfy { $0 == 0 })
    }

    @Test("admits while the prediction fits within headroom × N and refuses past it, saying when to come back")
    func admitsWhilePredictionFits() {
        // One slot, 0.125 s a job, N = 1 at headroom 0.9: the n-th job completes at n × 0.125 s,
        // so seven fit and the eighth does not.
        var queue = Self.makeQueue(slots: 1, deadline: 1)
        var admitted = 0
        for attempt in 0..<10 {
            var woken = WakeList()
            switch queue.admit(cost: 4, arrivedAt: 100, pid: 7, mayHold: true, now: 100, woken: &woken) {
            case .admitted(let ticket):
                #expect(ticket.prediction.completesIn <= 0.9)
                #expect(ticket.prediction.completesIn == 0.125 * Double(attempt + 1))
                admitted += 1
            case .refused(let prediction, let retryAfter, let answerAt, _):
                #expect(prediction.completesIn > 0.9 && answerAt == 100)
                #expect(
                    queue.policy.decide(prediction, serviceSeconds: 0.125) == .refuse(retryAfterSeconds: retryAfter))
            }
        }
        #expect(admitted == 7)
        #expect(queue.storage.nextTicket == 8 && queue.storage.queuedCount == 6)
        #expect(queue.storage.events.filter { $0 == .refusedAtOnce(pid: 7, late: false, paced: false) }.count == 3)
    }

    @Test("a job that has already waited long before reaching the worker is refused at once and counted late")
    func lateArrival() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 1)
        let (_, answerAt) = try Self.refusal(&queue, arrivedAt: 99.0625, now: 100)
        #expect(answerAt == 100)
        #expect(queue.storage.events == [.refusedAtOnce(pid: 7, late: true, paced: false)])
        #expect(Self.admit(&queue, arrivedAt: 99.5, now: 100) != nil)
    }

    @Test("a waiting job sleeps until its latest start counted from arrival, then leaves, refused")
    func refusedAtLatestStart() throws {
        // N = 1: answers by 0.95 s after arrival, so a 0.125 s job must start by 0.825 s.
        var queue = Self.makeQueue(slots: 1, deadline: 1, headroom: 1)
        let (holder, _) = try #require(Self.admit(&queue, now: 100))
        let (waiter, _) = try #require(Self.admit(&queue, pid: 8, arrivedAt: 99.75, now: 100))
        let latestStart = 99.75 + queue.policy.latestStart(serviceSeconds: 0.125)
        #expect(queue.step(waiter, pid: 8, now: 100) == .wait(seconds: latestStart - 100))
        let almost = latestStart - 1.0 / 1024
        #expect(queue.step(waiter, pid: 8, now: almost) == .wait(seconds: latestStart - almost))
        #expect(queue.step(waiter, pid: 8, now: latestStart) == .refused(retryAfterSeconds: 1))
        #expect(queue.storage.events.last == .refusedAtDeadline(pid: 8))
        #expect(queue.storage.waitingTickets.isEmpty && queue.storage.queuedCount == 0)
        #expect(queue.storage.queuedByCost.allSatisfy { $0 == 0 })
        // The slot it never got is not handed to it later.
        #expect(Self.finish(&queue, holder, now: latestStart + 0.0625).isEmpty)
        #expect(queue.storage.grantTicket == queue.storage.nextTicket && queue.storage.runningCount == 0)
        #expect(queue.step(waiter, pid: 8, now: latestStart + 0.0625) == .refused(retryAfterSeconds: 1))
    }

    @Test("a waiting job that leaves is passed over: the next in line gets the slot")
    func leaverPassedOver() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 2, headroom: 1)
        let (holder, _) = try #require(Self.admit(&queue, now: 100))
        let (early, _) = try #require(Self.admit(&queue, arrivedAt: 99, now: 100))
        let (next, _) = try #require(Self.admit(&queue, now: 100))
        let now = 99 + queue.policy.latestStart(serviceSeconds: 0.125)
        #expect(queue.step(early, pid: 7, now: now) == .refused(retryAfterSeconds: 1))
        #expect(Self.finish(&queue, holder, now: now) == [next.ticket])
        #expect(queue.storage.runningTickets == [next.ticket])
    }

    @Test("refusals past the budget are held and paced, never past headroom × N; unheld ones leave at once")
    func pacedRefusals() throws {
        // One slot, 1 s a job, N = 2: one job fits; the rest are refused, four a second at most.
        var queue = Self.makeQueue(slots: 1, deadline: 2, service: 1, refusalRate: 4)
        _ = try #require(Self.admit(&queue, now: 100))
        var answers: [Double] = []
        for _ in 0..<20 {
            let (_, answerAt) = try Self.refusal(&queue, arrivedAt: 100, now: 100)
            answers.append(answerAt)
        }
        #expect(answers.allSatisfy { $0 >= 100 && $0 <= 100 + 2 * 0.9 })
        #expect(zip(answers, answers.dropFirst()).allSatisfy { $0 <= $1 })
        let last = try #require(answers.last)
        #expect(answers.first == 100 && abs(last - (100 + 2 * 0.9)) < 1e-9)
        let paced = queue.storage.events.compactMap { event -> Bool? in
            if case .refusedAtOnce(_, _, let paced, _) = event { return paced }
            return nil
        }
        #expect(paced == answers.map { $0 > 100 })
        #expect(paced.contains(true) && paced.contains(false))
        let budget = queue.storage.refusalTheoreticalArrival
        let (_, answerAt) = try Self.refusal(&queue, arrivedAt: 100, mayHold: false, now: 100)
        #expect(answerAt == 100 && queue.storage.refusalTheoreticalArrival == budget)
    }

    @Test("a full ring refuses rather than overwrite a job, and admits again once the entry is free")
    func fullRing() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 1000, service: 1.0 / 1024, jobCapacity: 4)
        var tickets: [AdmissionController.Ticket] = []
        for _ in 0..<4 { tickets.append(try #require(Self.admit(&queue, now: 100)).0) }
        let (retryAfter, _) = try Self.refusal(&queue, arrivedAt: 100, now: 100)
        #expect(retryAfter == 1 && queue.storage.nextTicket == 5)
        #expect(queue.storage[job: 5].ticket == 1 && queue.storage[job: 5].state == .running)
        #expect(Self.finish(&queue, tickets[0], now: 100.5) == [2])
        let (fifth, _) = try #require(Self.admit(&queue, now: 100.5))
        #expect(fifth.ticket == 5 && queue.storage.waitingTickets == [3, 4, 5])
    }

    @Test("a dead process's jobs are freed, running and waiting, and its slot goes to the next live waiter")
    func freeDeadProcessJobs() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 100)
        let (a, _) = try #require(Self.admit(&queue, pid: 1, now: 100))
        let (b, _) = try #require(Self.admit(&queue, pid: 2, now: 100))
        let (c, _) = try #require(Self.admit(&queue, pid: 1, now: 100))
        let (d, _) = try #require(Self.admit(&queue, pid: 2, now: 100))
        _ = try #require(Self.admit(&queue, pid: 1, now: 100))
        var woken = WakeList()
        let freed = queue.freeJobs(now: 101, woken: &woken) { $0 == 1 }
        #expect(freed == 3)
        #expect(Self.tickets(woken) == [d.ticket])
        #expect(queue.storage.runningTickets == [b.ticket, d.ticket])
        #expect(queue.storage.waitingTickets.isEmpty && queue.storage.queuedCount == 0)
        // The thread of a job freed under it (its process looked dead) is told it is too late.
        #expect(queue.step(c, pid: 1, now: 101) == .refused(retryAfterSeconds: 1))
        // Ending a job that was freed changes nothing.
        let before = queue.storage.runningTickets
        #expect(Self.finish(&queue, a, now: 101).isEmpty && queue.storage.runningTickets == before)
    }

    @Test("ending a job teaches the estimate how long a slot is held, except when bcrypt failed")
    func estimateLearns() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 100)
        let unit = queue.storage.unitSeconds
        let (failed, _) = try #require(Self.admit(&queue, now: 100))
        _ = Self.finish(&queue, failed, service: 0.5, outcome: .failed, now: 100.5)
        #expect(queue.storage.unitSeconds == unit && queue.storage.estimateSamples == 0)
        let (slow, _) = try #require(Self.admit(&queue, now: 101))
        _ = Self.finish(&queue, slow, service: 0.25, now: 101.25)
        #expect(queue.storage.unitSeconds > unit && queue.storage.estimateSamples == 1)
        // An overrun learns from the time the slot was held, and its answer was not its result.
        let (overran, _) = try #require(Self.admit(&queue, arrivedAt: 101, now: 102))
        let learnt = queue.storage.unitSeconds
        _ = Self.finish(&queue, overran, service: 0.25, outcome: .overran, now: 104)
        #expect(queue.storage.unitSeconds > learnt)
        #expect(
            queue.storage.events.last
                == .ended(pid: 7, outcome: .overran, serviceSeconds: 0.25, responseSeconds: nil))
        #expect(
            queue.storage.events.contains(
                .ended(pid: 7, outcome: .delivered, serviceSeconds: 0.25, responseSeconds: 0.25)))
    }
}
