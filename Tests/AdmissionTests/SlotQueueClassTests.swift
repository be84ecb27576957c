import Testing

@testable import Admission

/// Job classes and memory on plain arrays and a made-up clock: argon2id parameter sets as
/// classes, each algorithm's time learnt apart, and the memory budget bounding what runs at once.
@Suite("SlotQueue: job classes and the memory budget")
struct SlotQueueClassTests {
    typealias Queue = SlotQueue<ArrayQueueStorage>
    /// argon2id at 1 MiB and 2 passes: 2,048 units of 2^-16 s, 1/32 s.
    static let argon2 = JobClass.argon2id(memoryKiB: 1024, passes: 2)
    static let unit = 1.0 / 65536

    static func makeQueue(slots: Int, budgetKiB: Int = 0, lanes: Int = 1, deadline: Double = 8) -> Queue {
        var storage = ArrayQueueStorage(slots: slots, jobCapacity: 256, serviceSeconds: 0.125)
        storage.argon2UnitSeconds = unit
        storage.memoryBudgetKiB = budgetKiB
        return SlotQueue(storage: storage, policy: AdmissionPolicy(deadline: deadline, lanes: lanes))
    }

    static func admit(_ queue: inout Queue, _ job: JobClass, pid: Int32 = 7, now: Double) -> (
        AdmissionController.Admission, woken: [UInt64]
    ) {
        var woken = WakeList()
        guard let index = queue.classIndex(for: job) else {
            return (queue.refuseAtOnce(cost: 31, pid: pid, now: now), [])
        }
        let admission = queue.admit(cost: index, arrivedAt: now, pid: pid, mayHold: false, now: now, woken: &woken)
        return (admission, SlotQueueTests.tickets(woken))
    }

    static func ticket(_ admission: AdmissionController.Admission) throws -> AdmissionController.Ticket {
        guard case .admitted(let ticket) = admission else { throw SlotQueueTests.RefusalExpected(admission: admission) }
        return ticket
    }

    @Test("argon2id parameter sets get classes 0..<4, the same set the same class; a fifth waits until one is free")
    func registration() throws {
        var queue = Self.makeQueue(slots: 1)
        let sets = (1...4).map { JobClass.argon2id(memoryKiB: 1024 * $0, passes: 1) }
        var tickets: [AdmissionController.Ticket] = []
        for job in sets { tickets.append(try Self.ticket(Self.admit(&queue, job, now: 0).0)) }
        #expect(tickets.map(\.cost) == [0, 1, 2, 3])
        #expect(queue.classIndex(for: sets[2]) == 2)
        #expect(queue.classIndex(for: .bcrypt(cost: 12)) == 12)
        // Four sets with jobs in flight: a fifth finds no class, and is refused.
        #expect(queue.classIndex(for: .argon2id(memoryKiB: 8192, passes: 1)) == nil)
        // The first ends: its class is free for the fifth.
        _ = SlotQueueTests.finish(&queue, tickets[0], service: 1.0 / 64, now: 1.0 / 64)
        #expect(queue.classIndex(for: .argon2id(memoryKiB: 8192, passes: 1)) == 0)
    }

    @Test("each algorithm is predicted from its own unit, and a finished job teaches only its own")
    func estimatesApart() throws {
        var queue = Self.makeQueue(slots: 1)
        let registered = queue.classIndex(for: Self.argon2)
        let index = try #require(registered)
        #expect(queue.seconds(forClass: index) == 1.0 / 32)
        #expect(queue.seconds(forClass: 4) == 0.125)
        let ticket = try Self.ticket(Self.admit(&queue, Self.argon2, now: 0).0)
        // It took twice as long as predicted: argon2id's unit moves towards that, bcrypt's stays.
        _ = SlotQueueTests.finish(&queue, ticket, service: 1.0 / 16, now: 1.0 / 16)
        #expect(queue.storage.argon2Samples == 1)
        #expect(queue.seconds(forClass: index) > 1.0 / 32)
        #expect(queue.storage.unitSeconds == ServiceTimeEstimate(seconds: 0.125, atCost: 4).unitSeconds)
        #expect(queue.storage.estimateSamples == 0)
    }

    @Test("a budget that fits two: never more than two argon2id jobs run, with slots to spare; each end hands on one")
    func memoryBound() throws {
        var queue = Self.makeQueue(slots: 4, budgetKiB: 2560)
        var tickets: [AdmissionController.Ticket] = []
        var granted: [UInt64] = []
        for _ in 0..<6 {
            let (admission, woken) = Self.admit(&queue, Self.argon2, now: 0)
            tickets.append(try Self.ticket(admission))
            granted += woken
        }
        #expect(granted == [tickets[0].ticket, tickets[1].ticket])
        #expect(queue.storage.runningCount == 2 && queue.storage.memoryInUseKiB == 2048)
        var now = 0.0
        for index in 0..<6 {
            now += 1.0 / 32
            let woken = SlotQueueTests.finish(&queue, tickets[index], service: 1.0 / 32, now: now)
            #expect(queue.storage.runningCount <= 2 && queue.storage.memoryInUseKiB <= 2560)
            #expect(woken == (index + 2 < 6 ? [tickets[index + 2].ticket] : []))
        }
        #expect(queue.storage.runningCount == 0 && queue.storage.memoryInUseKiB == 0)
    }

    @Test("with memory for one, argon2id jobs are predicted one after another, and refused once that passes N")
    func memoryBoundPrediction() throws {
        // N = 1 s, headroom 0.9: 28 jobs of 1/32 s fit one after another, not 4 × 28.
        var queue = Self.makeQueue(slots: 4, budgetKiB: 1024, deadline: 1)
        var admitted = 0
        while case .admitted(let ticket) = Self.admit(&queue, Self.argon2, now: 0).0 {
            admitted += 1
            #expect(ticket.prediction.completesIn == Double(admitted) / 32, "job \(admitted)")
            if admitted > 40 { break }
        }
        #expect(admitted == 28)
        // Without the budget the four slots would take four times as many.
        var unbounded = Self.makeQueue(slots: 4, deadline: 1)
        var count = 0
        while case .admitted = Self.admit(&unbounded, Self.argon2, now: 0).0, count < 200 { count += 1 }
        #expect(count >= 4 * 28)
    }

    @Test("slots go in arrival order: a bcrypt job behind an argon2id job that waits for memory waits with it")
    func arrivalOrderWithMemory() throws {
        var queue = Self.makeQueue(slots: 4, budgetKiB: 1024)
        let first = try Self.ticket(Self.admit(&queue, Self.argon2, now: 0).0)
        let second = try Self.ticket(Self.admit(&queue, Self.argon2, now: 0).0)
        let (bcrypt, woken) = Self.admit(&queue, .bcrypt(cost: 4), now: 0)
        let third = try Self.ticket(bcrypt)
        #expect(woken.isEmpty && queue.storage.runningCount == 1)
        let handed = SlotQueueTests.finish(&queue, first, service: 1.0 / 32, now: 1.0 / 32)
        #expect(handed == [second.ticket, third.ticket])
    }

    @Test("argon2id jobs never batch, whatever the lanes; bcrypt jobs of the same process still do")
    func noArgon2Batches() throws {
        var queue = Self.makeQueue(slots: 1, lanes: 4)
        let blocker = try Self.ticket(Self.admit(&queue, .bcrypt(cost: 4), now: 0).0)
        for _ in 0..<3 { _ = try Self.ticket(Self.admit(&queue, Self.argon2, now: 0).0) }
        _ = SlotQueueTests.finish(&queue, blocker, now: 0.125)
        let running = (0..<ArrayQueueStorage.maximumSlots).map { queue.storage[running: $0] }.filter { $0.ticket != 0 }
        #expect(running.count == 1 && running[0].lanes == 1)
    }
}

/// The share of the hashing between classes: a long class refused while short jobs take every
/// bit of room gets room again.
@Suite("SlotQueue: classes share the hashing")
struct SlotQueueClassShareTests {
    typealias Queue = SlotQueue<ArrayQueueStorage>

    @Test("short jobs filling the queue leave room for a long class they crowd out, until one of it fits")
    func longClassGetsRoom() throws {
        // One slot, N = 1 s: argon2id jobs of 1/32 s, bcrypt cost 4 jobs of 1/8 s.
        var queue = SlotQueueClassTests.makeQueue(slots: 1, deadline: 1)
        var argon2: [AdmissionController.Ticket] = []
        while case .admitted(let ticket) = SlotQueueClassTests.admit(&queue, SlotQueueClassTests.argon2, now: 0).0 {
            argon2.append(ticket)
        }
        #expect(argon2.count == 28, "filled to the headroom one short job at a time")
        // Room for one more short job appears as the first ends; not enough for a long one.
        _ = SlotQueueTests.finish(&queue, argon2[0], service: 1.0 / 32, now: 1.0 / 32)
        guard case .refused = SlotQueueClassTests.admit(&queue, .bcrypt(cost: 4), now: 1.0 / 32).0 else {
            Issue.record("a long job fitted where only a short one could")
            return
        }
        // Without the share, the short newcomer would take that room; now it must leave the long
        // class's job room behind it, and is refused.
        guard case .refused = SlotQueueClassTests.admit(&queue, SlotQueueClassTests.argon2, now: 1.0 / 32).0 else {
            Issue.record("a short job took the room the refused long class needs")
            return
        }
        // Three more short jobs end: the room for a long one is there, and it is admitted.
        var now = 1.0 / 32
        for index in 1...3 {
            now += 1.0 / 32
            _ = SlotQueueTests.finish(&queue, argon2[index], service: 1.0 / 32, now: now)
        }
        let long = SlotQueueClassTests.admit(&queue, .bcrypt(cost: 4), now: now).0
        guard case .admitted(let ticket) = long else {
            Issue.record("the long class never got room: \(long)")
            return
        }
        #expect(ticket.prediction.completesIn <= 0.9)
        // Its class still has less of the recent work (one job of 16 units against 28 of 4), so
        // short newcomers keep leaving it room; once no job of it has been refused for N, they
        // no longer do.
        #expect(queue.roomToLeave(for: 0, now: now) == 0.125)
        #expect(queue.roomToLeave(for: 0, now: 1.0 / 32 + 1.001) == 0)
    }

    @Test("one class alone leaves no room: its refusals do not mark another, and nothing changes")
    func oneClassAlone() {
        var queue = SlotQueueClassTests.makeQueue(slots: 1, deadline: 1)
        var admitted = 0
        while case .admitted = SlotQueueClassTests.admit(&queue, .bcrypt(cost: 4), now: 0).0 { admitted += 1 }
        #expect(admitted == 7)
        #expect(queue.roomToLeave(for: 4, now: 0) == 0)
        for _ in 0..<5 {
            guard case .refused = SlotQueueClassTests.admit(&queue, .bcrypt(cost: 4), now: 0).0 else {
                Issue.record("admitted past the headroom")
                return
            }
        }
    }
}
