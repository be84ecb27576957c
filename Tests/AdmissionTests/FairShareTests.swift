import Foundation
import StackTestSupport
import Testing

@testable import Admission

/// The fair share's decisions on plain arrays and a made-up clock: who counts as one client,
/// when a job takes the place of another's, what is refused and why, and what the table does
/// with hostile keys. Times are binary fractions, so that every sum below is exact.
@Suite("SlotQueue: the fair share on arrays")
struct FairShareTests {
    typealias Queue = SlotQueue<ArrayQueueStorage>

    static func makeQueue(
        slots: Int = 1, deadline: Double = 1, service: Double = 0.125, refusalRate: Double = 0,
        jobCapacity: Int = 256, clientCapacity: Int = 256, fairness: Bool = true
    ) -> Queue {
        SlotQueue(
            storage: ArrayQueueStorage(
                slots: slots, jobCapacity: jobCapacity, serviceSeconds: service, clientCapacity: clientCapacity),
            policy: AdmissionPolicy(deadline: deadline, headroom: 0.9, refusalRate: refusalRate, fairness: fairness))
    }

    /// A client at an IPv4 address.
    static func client(_ address: String) -> ClientKey.Hashed {
        ClientKey(remoteAddress: address).hashed(seed: 42)
    }

    /// A client named by a trusted proxy.
    static func named(_ name: String) -> ClientKey.Hashed {
        ClientKey(remoteAddress: "192.0.2.1", namedClient: name).hashed(seed: 42)
    }

    struct Offer {
        var admission: AdmissionController.Admission
        var woken: [UInt64]
        var ticket: AdmissionController.Ticket? {
            if case .admitted(let ticket) = admission { ticket } else { nil }
        }
        var reason: AdmissionController.RefusalReason? {
            if case .refused(_, _, _, let reason) = admission { reason } else { nil }
        }
        var answerAt: Double? {
            if case .refused(_, _, let answerAt, _) = admission { answerAt } else { nil }
        }
    }

    static func offer(
        _ queue: inout Queue, _ client: ClientKey.Hashed, cost: Int = 4, arrivedAt: Double? = nil, now: Double
    ) -> Offer {
        var woken = WakeList()
        let admission = queue.admit(
            cost: cost, arrivedAt: arrivedAt ?? now, pid: 7, mayHold: true, client: client, now: now, woken: &woken)
        return Offer(admission: admission, woken: SlotQueueTests.tickets(woken))
    }

    /// The entry index of a client's leaf (or its group's when it has none).
    static func entry(_ queue: inout Queue, _ client: ClientKey.Hashed, now: Double) -> ClientEntry {
        queue.storage[client: queue.clientEntry(for: client, now: now)]
    }

    /// Every count the table keeps, recomputed from the ring: what the incremental counts must equal.
    static func checkCounts(_ queue: Queue, sourceLocation: SourceLocation = #_sourceLocation) {
        let storage = queue.storage
        var work = [Int: UInt64]()
        var queued = [Int: Int]()
        var running = [Int: Int]()
        for job in storage.jobs where job.state != .free {
            guard let client = job.client else { continue }
            work[client, default: 0] += Queue.units(ofCost: job.cost)
            if job.state == .queued { queued[client, default: 0] += 1 } else { running[client, default: 0] += 1 }
        }
        var groupWork = [Int: UInt64]()
        var activeLeaves = [Int: Int]()
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 {
            #expect(entry.work == work[index, default: 0], "work of \(index)", sourceLocation: sourceLocation)
            #expect(entry.queued == queued[index, default: 0], "queued of \(index)", sourceLocation: sourceLocation)
            #expect(entry.running == running[index, default: 0], "running of \(index)", sourceLocation: sourceLocation)
            groupWork[entry.parent, default: 0] += entry.work
            if entry.work > 0 { activeLeaves[entry.parent, default: 0] += 1 }
            // Its waiting jobs, oldest first, through the ring.
            var tickets: [UInt64] = []
            var ticket = entry.head
            while ticket != 0, tickets.count <= storage.jobCapacity {
                tickets.append(ticket)
                ticket = storage[job: ticket].clientNext
            }
            let expected = storage.jobs.filter { $0.state == .queued && $0.client == index }.map(\.ticket).sorted()
            #expect(tickets == expected, "waiting jobs of \(index)", sourceLocation: sourceLocation)
            #expect(entry.tail == (expected.last ?? 0), sourceLocation: sourceLocation)
        }
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 && entry.parent == index {
            #expect(
                entry.groupWork == groupWork[index, default: 0], "group work of \(index)",
                sourceLocation: sourceLocation)
            #expect(entry.activeLeaves == activeLeaves[index, default: 0], sourceLocation: sourceLocation)
        }
        #expect(storage.totalWork == work.values.reduce(0, +), sourceLocation: sourceLocation)
        // The waiting counts the predictions read: by cost, and by process and cost.
        var byProcess = [[Int]](
            repeating: [Int](repeating: 0, count: ArrayQueueStorage.costClasses),
            count: ArrayQueueStorage.processBuckets)
        for job in storage.jobs where job.state == .queued {
            byProcess[ArrayQueueStorage.processBucket(pid: job.pid)][job.cost % ArrayQueueStorage.costClasses] += 1
        }
        #expect(storage.queuedByProcess == byProcess, "per-process waiting counts", sourceLocation: sourceLocation)
        #expect(
            storage.queuedCount == storage.jobs.filter { $0.state == .queued }.count, sourceLocation: sourceLocation)
        // Recent work: a group's is its leaves' together, and the active total the active groups'.
        let at = storage.clients.map(\.recentAt).max() ?? 0
        var leafRecent = [Int: Double]()
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 {
            leafRecent[entry.parent, default: 0] += queue.recentWork(ofClient: index, now: at)
        }
        var activeRecent = 0.0
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 && entry.parent == index {
            let recent = queue.recentWork(ofGroup: index, now: at)
            #expect(
                abs(recent - leafRecent[index, default: 0]) <= 1e-6 * max(1, recent), sourceLocation: sourceLocation)
            if entry.groupWork > 0 { activeRecent += recent }
        }
        let total = queue.activeRecentWork(now: at)
        #expect(abs(total - activeRecent) <= 1e-6 * max(1, total), "active recent work", sourceLocation: sourceLocation)
        #expect(storage.activeGroups == groupWork.values.filter { $0 > 0 }.count, sourceLocation: sourceLocation)
        var listed = Set<Int>()
        var index = storage.waitingClients
        while index >= 0, listed.count <= storage.clientCapacity {
            listed.insert(index)
            index = storage[client: index].waitingNext
        }
        #expect(listed == Set(queued.filter { $0.value > 0 }.keys), "waiting list", sourceLocation: sourceLocation)
    }
}
