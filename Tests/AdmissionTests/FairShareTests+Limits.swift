import Foundation
import Testing

@testable import Admission

// The refusal budget per client, and the client table under hostile keys.
extension FairShareTests {
    @Test("the refusal budget is each client's own: the one who storms waits for its refusals, nobody else does")
    func refusalBudgetPerClient() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 2, service: 1, refusalRate: 4)
        let flooder = Self.client("198.51.100.1")
        _ = try #require(Self.offer(&queue, flooder, now: 100).ticket)
        var held = 0
        for _ in 0..<20 {
            let offer = Self.offer(&queue, flooder, now: 100)
            let answerAt = try #require(offer.answerAt)
            #expect(answerAt <= 100 + 0.9 * 2)
            if answerAt > 100 { held += 1 }
        }
        #expect(held > 10)
        // Another client (its own group, or a neighbour in the flooder's) is refused at once.
        for other in [Self.client("203.0.113.9"), Self.client("198.51.100.2")] {
            let offer = Self.offer(&queue, other, now: 100)
            #expect(offer.answerAt == 100, "\(offer)")
        }
    }

    @Test(
        "100,000 distinct keys: the table stays its size, the active keys keep their entries, newcomers share the overflow"
    )
    func hostileKeys() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 1000, service: 1.0 / 1024, jobCapacity: 4096, clientCapacity: 64)
        let resident = Self.named("resident")
        let residentTicket = try #require(Self.offer(&queue, resident, now: 100).ticket)
        let residentIndex = queue.storage[job: residentTicket.ticket].client
        var overflowed = 0
        for index in 0..<100_000 {
            let now = 100 + Double(index) / 1_048_576
            let entryIndex = queue.clientEntry(for: Self.named("key-\(index)"), now: now)
            if entryIndex == 0 { overflowed += 1 }
            // Keep a job of each waiting, so that the table stays full of active keys.
            if entryIndex != 0, queue.storage[client: entryIndex].work == 0, queue.storage.queuedCount < 100 {
                _ = Self.offer(&queue, Self.named("key-\(index)"), now: now)
            }
        }
        #expect(queue.storage.clients.count == 64)
        #expect(overflowed > 90_000)
        #expect(queue.storage.events.filter { $0 == .keyOverflowed }.count == overflowed)
        #expect(queue.storage[job: residentTicket.ticket].client == residentIndex)
        #expect(Self.entry(&queue, resident, now: 101).work == Queue.units(ofCost: 4))
        Self.checkCounts(queue)
    }

    @Test(
        "idle keys age out after max(1 s, 2 N): their entries go to newcomers; a key with work or a pending refusal stays"
    )
    func idleKeysAgeOut() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 1, service: 1.0 / 1024, clientCapacity: 8)
        var first: [Int] = []
        for index in 0..<7 {
            first.append(queue.clientEntry(for: Self.named("old-\(index)"), now: 100))
        }
        #expect(Set(first).count == 7 && !first.contains(0))
        #expect(queue.clientEntry(for: Self.named("new"), now: 101) == 0)
        let reused = queue.clientEntry(for: Self.named("new"), now: 102.5)
        #expect(first.contains(reused))
        #expect(queue.storage[client: reused].key == Self.named("new").group)
    }

    @Test("a group holds at most 64 leaves; its further addresses share the group's own entry")
    func leavesPerGroup() {
        var queue = Self.makeQueue(clientCapacity: 512)
        var indexes = Set<Int>()
        for index in 0..<100 { indexes.insert(queue.clientEntry(for: Self.client("198.51.100.\(index)"), now: 100)) }
        let group = Self.entry(&queue, Self.client("198.51.100.0"), now: 100).parent
        #expect(indexes.count == ClientTableLimits.maximumLeavesPerGroup + 1 && indexes.contains(group))
        #expect(queue.storage[client: group].children == ClientTableLimits.maximumLeavesPerGroup)
    }
}
