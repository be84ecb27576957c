import Foundation
import Testing

@testable import Admission

// When a job takes the place of another client's.
extension FairShareTests {
    @Test(
        "a client under its share takes the newest waiting place of the client most over its; that job is told at once")
    func lightDisplacesFlooder() throws {
        // One slot, 0.125 s a job, N = 1 at headroom 0.9: seven jobs fit.
        var queue = Self.makeQueue()
        let flooder = Self.client("198.51.100.1")
        var tickets: [AdmissionController.Ticket] = []
        for _ in 0..<7 { tickets.append(try #require(Self.offer(&queue, flooder, now: 100).ticket)) }
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        let admitted = try #require(light.ticket)
        // The flooder's newest waiting job (ticket 7) gave its place, and then ticket 6 for a
        // service time to spare (at most 0.1 N): the newcomer is answered by 0.75 s, not 0.875 s.
        // Nothing running moved.
        #expect(light.woken == [tickets[6].ticket, tickets[5].ticket])
        #expect(admitted.prediction.completesIn == 0.75)
        #expect(queue.step(tickets[6], pid: 7, now: 100) == .displaced(retryAfterSeconds: 1))
        #expect(queue.step(tickets[5], pid: 7, now: 100) == .displaced(retryAfterSeconds: 1))
        #expect(queue.storage.runningTickets == [tickets[0].ticket])
        #expect(queue.storage.waitingTickets == tickets[1..<5].map(\.ticket) + [admitted.ticket])
        #expect(queue.storage.events.contains(.displaced(pid: 7)))
        Self.checkCounts(queue)
        // The flooder takes the room left behind the newcomer (the newcomer, ahead of it, keeps its
        // 0.75 s); then, over its share, it is refused and says why.
        #expect(Self.offer(&queue, flooder, now: 100).ticket != nil)
        let again = Self.offer(&queue, flooder, now: 100)
        #expect(again.reason == .overShare && again.woken.isEmpty)
        #expect(queue.storage.events.last == .refusedAtOnce(pid: 7, late: false, paced: false, overShare: true))
        let entry = Self.entry(&queue, flooder, now: 100)
        #expect(entry.displaced == 2 && entry.refusedOverShare == 1 && entry.admitted == 8)
        Self.checkCounts(queue)
    }

    @Test(
        "max-min whatever the equal part: beside sixteen clients that ask one job each, a burst of five still takes from the flood"
    )
    func burstBesideManyLightClients() throws {
        // N = 8: 57 jobs of 0.125 s fit. The flood fills the queue, sixteen light clients take a
        // place each, then one more client sends five: more than an equal part of the eighteen
        // clients' recent work (about 3.4 jobs), far less than the flood's.
        var queue = Self.makeQueue(deadline: 8)
        let flooder = Self.client("198.51.100.1")
        while Self.offer(&queue, flooder, now: 100).ticket != nil {}
        for index in 0..<16 {
            #expect(Self.offer(&queue, Self.client("203.0.\(index).9"), now: 100).ticket != nil)
        }
        // The flood takes whatever room the light clients' displacements left, until it has no
        // one to take from: with far more than an equal part, it is over its share.
        var refused = Self.offer(&queue, flooder, now: 100)
        while refused.ticket != nil { refused = Self.offer(&queue, flooder, now: 100) }
        #expect(refused.reason == .overShare)
        let displacedBefore = Self.entry(&queue, flooder, now: 100).displaced
        let burst = Self.client("192.0.2.7")
        for job in 0..<5 {
            #expect(Self.offer(&queue, burst, now: 100).ticket != nil, "job \(job) of the burst")
        }
        Self.checkCounts(queue)
        #expect(Self.entry(&queue, burst, now: 100).admitted == 5)
        // Each of its jobs took a waiting place of the flood's, or the service time to spare that the one before made.
        #expect(Self.entry(&queue, flooder, now: 100).displaced >= displacedBefore + 3)
    }

    @Test(
        "nothing running is interrupted: when only running work stands in the way, the newcomer is refused at capacity")
    func runningIsNeverDisplaced() throws {
        var queue = Self.makeQueue(slots: 2, service: 0.5)
        let flooder = Self.client("198.51.100.1")
        _ = try #require(Self.offer(&queue, flooder, now: 100).ticket)
        _ = try #require(Self.offer(&queue, flooder, now: 100).ticket)
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        #expect(light.reason == .atCapacity && light.woken.isEmpty)
        #expect(queue.storage.runningTickets == [1, 2])
        Self.checkCounts(queue)
    }

    @Test("work is 2^cost: a cost-6 job displaces as many waiting jobs as it needs to fit, newest first, and no more")
    func costWeighted() throws {
        // Two slots, 1/16 s at cost 4 (1/4 s at cost 6), N = 1: 28 cost-4 jobs fit.
        var queue = Self.makeQueue(slots: 2, service: 0.0625)
        let flooder = Self.client("198.51.100.1")
        var admitted = 0
        while Self.offer(&queue, flooder, now: 100).ticket != nil { admitted += 1 }
        #expect(admitted == 28)
        // Two running, 26 waiting. The newcomer goes to the back: after q waiting jobs it starts at
        // (1 + q / 2) / 16 s. A 1/4 s job fits (0.9 s) after 19; with 0.1 s to spare (0.8 s), after 15.
        let heavy = Self.offer(&queue, Self.client("203.0.113.9"), cost: 6, now: 100)
        let ticket = try #require(heavy.ticket)
        #expect(heavy.woken == Array((18...28).reversed()))
        #expect(ticket.prediction.completesIn <= 0.9)
        for displaced in heavy.woken {
            #expect(
                queue.step(admittedTicket(displaced, cost: 4), pid: 7, now: 100) == .displaced(retryAfterSeconds: 1))
        }
        Self.checkCounts(queue)
    }

    /// A ticket as its waiter holds it (what `step` needs of it).
    func admittedTicket(_ ticket: UInt64, cost: Int) -> AdmissionController.Ticket {
        AdmissionController.Ticket(
            ticket: ticket, cost: cost, arrivedAt: 100, admittedAt: 100,
            prediction: .init(startsIn: 0, completesIn: 0, drainsIn: 0))
    }

    @Test("when not even all that is fair to take would make room, nothing is displaced and every count is as it was")
    func noRoomChangesNothing() throws {
        // N = 1, 1/16 s a job at cost 4: a cost-8 job (1 s) can never fit.
        var queue = Self.makeQueue(slots: 2, service: 0.0625)
        let flooder = Self.client("198.51.100.1")
        while Self.offer(&queue, flooder, now: 100).ticket != nil {}
        let before = queue.storage
        let huge = Self.offer(&queue, Self.client("203.0.113.9"), cost: 8, now: 100)
        #expect(huge.reason == .atCapacity && huge.woken.isEmpty)
        #expect(queue.storage.jobs == before.jobs)
        #expect(queue.storage.waitingTickets == before.waitingTickets)
        #expect(queue.storage.totalWork == before.totalWork && queue.storage.queuedCount == before.queuedCount)
        #expect(queue.storage.queuedByCost == before.queuedByCost)
        Self.checkCounts(queue)
    }

    @Test(
        "within one /24, an address under its share takes the place of the address over its; other groups are untouched"
    )
    func leavesOfOneGroup() throws {
        var queue = Self.makeQueue()
        let flooder = Self.client("198.51.100.1")
        let neighbour = Self.client("198.51.100.2")
        for _ in 0..<7 { _ = try #require(Self.offer(&queue, flooder, now: 100).ticket) }
        let offer = Self.offer(&queue, neighbour, now: 100)
        #expect(offer.ticket != nil && offer.woken == [7, 6])
        Self.checkCounts(queue)
    }

    @Test(
        "rotating through a whole /24 buys nothing: the group is one client, and another group's client still gets in")
    func rotatingAddresses() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 1, service: 0.0625)
        for index in 0..<256 { _ = Self.offer(&queue, Self.client("198.51.100.\(index)"), now: 100) }
        let group = Self.entry(&queue, Self.client("198.51.100.0"), now: 100).parent
        #expect(queue.storage[client: group].children == ClientTableLimits.maximumLeavesPerGroup)
        // 26 waiting: it fits after 25 (0.875 s), and has 1/16 s to spare after 23 (0.8125 s).
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        #expect(light.ticket != nil && light.woken.count == 3)
        Self.checkCounts(queue)
    }
}
