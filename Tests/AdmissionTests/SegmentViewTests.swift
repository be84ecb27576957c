import Foundation
import StackTestSupport
import Testing

@testable import Admission

/// The shared segment's Swift view must behave as plain arrays do: the same random run of
/// decisions on both gives the same answers and leaves the same queue. Every time in the run is
/// a multiple of 1/512 s, exact both as a binary fraction and in whole nanoseconds (what the
/// segment keeps), so that the two must agree exactly, not nearly.
@Suite("SegmentView: the shared segment as the slot queue's storage", .serialized)
struct SegmentViewTests {
    /// What the two runs are compared on after every step.
    struct Summary: Equatable {
        var nextTicket: UInt64
        var grantTicket: UInt64
        var runningCount: Int
        var queuedCount: Int
        var queuedByCost: [Int]
        /// The non-zero per-process counts, as "bucket:cost:count".
        var queuedByProcess: [String]
        var running: [UInt64]
        /// Each slot's batch: first ticket, jobs, jobs not yet ended.
        var batches: [String]
        var batchFactors: [BatchFactor]
        var samples: Int
        var unitSeconds: Double
        var refusalTheoreticalArrival: Double
        var clients: [ClientEntry]
        var totalWork: UInt64
        var activeGroups: Int
        var waitingClients: Int

        init<Storage: SlotQueueStorage>(_ storage: Storage) {
            clients = (0..<storage.clientCapacity).map { storage[client: $0] }.filter { $0.key != 0 }
            totalWork = storage.totalWork
            activeGroups = storage.activeGroups
            waitingClients = storage.waitingClients
            nextTicket = storage.nextTicket
            grantTicket = storage.grantTicket
            runningCount = storage.runningCount
            queuedCount = storage.queuedCount
            queuedByCost = (0..<Storage.costClasses).map { storage.queuedCount(atCost: $0) }
            queuedByProcess = (0..<Storage.processBuckets).flatMap { bucket in
                (0..<Storage.costClasses).compactMap { cost in
                    let count = storage.queuedCount(atCost: cost, process: bucket)
                    return count == 0 ? nil : "\(bucket):\(cost):\(count)"
                }
            }
            running = (0..<Storage.maximumSlots).map { storage[running: $0].ticket }.filter { $0 != 0 }.sorted()
            batches = (0..<Storage.maximumSlots).map { storage[running: $0] }.filter { $0.ticket != 0 }
                .map { "\($0.ticket):\($0.lanes):\($0.membersLeft)" }.sorted()
            batchFactors = (2...Storage.maximumBatch).map { storage[batch: $0] }
            samples = storage.estimateSamples
            unitSeconds = storage.unitSeconds
            refusalTheoreticalArrival = storage.refusalTheoreticalArrival
        }
    }

    /// A step, as text both runs' step types can be compared on.
    static func describe<Storage>(_ step: SlotQueue<Storage>.SlotStep) -> String {
        switch step {
        case .granted: "granted"
        case .wait(let seconds): "wait \(seconds)"
        case .refused(let retryAfter): "refused \(retryAfter)"
        case .displaced(let retryAfter): "displaced \(retryAfter)"
        }
    }

    /// A random multiple of 1/512 s below `limit` of them.
    static func grid(_ random: inout SplitMix, below limit: UInt64) -> Double {
        Double(random.next(upperBound: limit)) / 512
    }

    @Test(
        "a random run of admissions, waits, ends and sweeps answers the same on the segment as on arrays, with batches and without",
        arguments: [1, 4])
    func sameAsArrays(lanes: Int) throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var random = SplitMix(state: seed)
        let temporary = TemporarySegment()
        let segment = try temporary.open(slots: 3, deadline: 0.5)
        let policy = AdmissionPolicy(deadline: 0.5, headroom: 0.875, refusalRate: 8, fairness: true, lanes: lanes)
        let unit = segment.withLockedView { $0.unitSeconds }
        var reference = SlotQueue(
            storage: ArrayQueueStorage(
                slots: 3, jobCapacity: segment.jobCapacity, serviceSeconds: unit, atCost: 0,
                clientCapacity: segment.withLockedView { $0.clientCapacity }),
            policy: policy)
        // Five clients in three groups, one of them a flooder that sends most of the jobs.
        let clients = ["198.51.100.1", "198.51.100.2", "203.0.113.5", "203.0.113.6", "2001:db8::1"].map {
            ClientKey(remoteAddress: $0).hashed(seed: seed)
        }
        func onSegment<Result>(_ body: (inout SlotQueue<SegmentView>) -> Result) -> Result {
            segment.withLockedView { view in
                var queue = SlotQueue(storage: view, policy: policy)
                return body(&queue)
            }
        }
        var now = 1000.0
        var waiting: [AdmissionController.Ticket] = []
        var holding: [AdmissionController.Ticket] = []
        var answers = 0
        var sawBatch = false
        // 4,000 steps, or more (up to 16,000) until more than 30 jobs have ended: how many end
        // depends on the seed (with three costs, classes that crowd another out leave it room,
        // and are refused more; most seeds end 60 to 200 in 4,000 steps, a few fewer than 30).
        var step = 0
        while step < 4000 || (answers <= 30 && step < 16000) {
            defer { step += 1 }
            now += Self.grid(&random, below: 4)
            let context = Comment(rawValue: "seed \(seed), step \(step)")
            var wokenOnArrays = WakeList()
            var wokenOnSegment = WakeList()
            switch random.next(upperBound: 200 as UInt64) {
            case 0..<80:
                let cost = 4 + Int(random.next(upperBound: 3 as UInt64))
                let pid = Int32(100 + random.next(upperBound: 3 as UInt64))
                let arrivedAt = now - Self.grid(&random, below: 160)
                let mayHold = random.next(upperBound: 4 as UInt64) != 0
                let pick = Int(random.next(upperBound: 8 as UInt64))
                let client = pick == 7 ? nil : clients[min(pick, clients.count - 1)]
                let expected = reference.admit(
                    cost: cost, arrivedAt: arrivedAt, pid: pid, mayHold: mayHold, client: client, now: now,
                    woken: &wokenOnArrays)
                let actual = onSegment {
                    $0.admit(
                        cost: cost, arrivedAt: arrivedAt, pid: pid, mayHold: mayHold, client: client, now: now,
                        woken: &wokenOnSegment)
                }
                #expect(actual == expected, context)
                if case .admitted(let ticket) = expected { waiting.append(ticket) }
            case 80..<140:
                guard !waiting.isEmpty else { continue }
                let index = Int(random.next(upperBound: UInt64(waiting.count)))
                let ticket = waiting[index]
                let expected = reference.step(ticket, pid: 100, now: now)
                let actual = onSegment { $0.step(ticket, pid: 100, now: now) }
                #expect(Self.describe(actual) == Self.describe(expected), context)
                if case .wait = expected { continue }
                waiting.remove(at: index)
                if case .granted = expected { holding.append(ticket) }
            case 140..<199:
                guard !holding.isEmpty else { continue }
                let ticket = holding.removeFirst()
                let service = Self.grid(&random, below: 12)
                let outcome: AdmissionController.JobOutcome = [.delivered, .delivered, .failed, .overran][
                    Int(random.next(upperBound: 4 as UInt64))]
                reference.finish(
                    ticket, serviceSeconds: service, outcome: outcome, pid: 100, now: now, woken: &wokenOnArrays)
                onSegment {
                    $0.finish(
                        ticket, serviceSeconds: service, outcome: outcome, pid: 100, now: now, woken: &wokenOnSegment)
                }
                answers += 1
            default:
                let dead = Int32(100 + random.next(upperBound: 3 as UInt64))
                let expected = reference.freeJobs(now: now, woken: &wokenOnArrays) { $0 == dead }
                let actual = onSegment { $0.freeJobs(now: now, woken: &wokenOnSegment) { $0 == dead } }
                #expect(actual == expected, context)
            }
            #expect(SlotQueueTests.tickets(wokenOnSegment) == SlotQueueTests.tickets(wokenOnArrays), context)
            let summary = segment.withLockedView { Summary($0) }
            try #require(summary == Summary(reference.storage), context)
            sawBatch = sawBatch || summary.batches.contains { $0.split(separator: ":")[1] != "1" }
        }
        #expect(sawBatch == (lanes > 1), "batches formed only with lanes to form them")
        // The run went through every kind of answer, not just one.
        let events = reference.storage.events
        #expect(answers > 30, "seed \(seed): \(answers) jobs ended in \(step) steps")
        #expect(events.contains { if case .refusedAtDeadline = $0 { true } else { false } })
        #expect(events.contains { if case .refusedAtOnce(_, _, true, _) = $0 { true } else { false } })
        #expect(events.contains { if case .refusedAtOnce(_, true, _, _) = $0 { true } else { false } })
        #expect(events.contains { if case .displaced = $0 { true } else { false } })
        #expect(events.contains { if case .refusedAtOnce(_, _, _, true) = $0 { true } else { false } })
    }
}
