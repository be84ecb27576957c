import Admission
import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("AdmissionController: the queue, arrival times and the ring", .serialized)
struct AdmissionQueueTests {
    @Test("fifty waiters in two processes' controllers get the one slot strictly in arrival order")
    func strictArrivalOrder() throws {
        let temporary = TemporarySegment()
        let policy = AdmissionPolicy(deadline: 30)
        let controllers = [
            AdmissionController(segment: try temporary.open(slots: 1, deadline: 30), policy: policy),
            AdmissionController(segment: try temporary.open(slots: 1, deadline: 30), policy: policy),
        ]
        var tickets: [AdmissionController.Ticket] = []
        for index in 0..<51 {
            guard case .admitted(let ticket) = controllers[index % 2].admit(cost: 4) else {
                Issue.record("job \(index) not admitted")
                return
            }
            tickets.append(ticket)
        }
        #expect(controllers[0].waitForSlot(tickets[0]) == .granted)
        let admitted = tickets
        let order = Mutex<[Int]>([])
        concurrently(51) { index in
            if index == 0 {
                usleep(100_000)  // every waiter is asleep on its own word by now
                controllers[0].finish(admitted[0], serviceSeconds: 0.001, outcome: .delivered)
                return
            }
            let controller = controllers[index % 2]
            #expect(controller.waitForSlot(admitted[index]) == .granted)
            order.withLock { $0.append(index) }
            controller.finish(admitted[index], serviceSeconds: 0.001, outcome: .delivered)
        }
        #expect(order.withLock { $0 } == Array(1...50))
        let snapshot = AdmissionSnapshot.read(controllers[0].segment)
        #expect(snapshot.completed == 51 && snapshot.queued == 0 && snapshot.running == 0)
    }

    @Test("a request that arrived too long ago is refused at once, though the queue is empty, and counted late")
    func lateArrivalRefusedAtOnce() throws {
        let temporary = TemporarySegment()
        let controller = AdmissionController(
            segment: try temporary.open(slots: 2, deadline: 1), policy: AdmissionPolicy(deadline: 1))
        let now = MonotonicClock.now
        guard
            case .refused(_, let retryAfter, let answerAt, _) = controller.admit(cost: 4, arrival: now - 0.95, now: now)
        else {
            Issue.record("admitted a job whose N was nearly spent")
            return
        }
        #expect(retryAfter >= 1 && answerAt == now, "a refusal that can no longer be held leaves at once")
        guard case .admitted = controller.admit(cost: 4, arrival: now - 0.5, now: now) else {
            Issue.record("refused a job that still fits")
            return
        }
        let snapshot = controller.snapshot(now: now)
        #expect(snapshot.lateArrivals == 1 && snapshot.refusedAtOnce == 1 && snapshot.admitted == 1)
    }

    @Test("a waiting job gives up by its latest start counted from arrival, not from admission")
    func latestStartFromArrival() throws {
        let temporary = TemporarySegment()
        let policy = AdmissionPolicy(deadline: 0.6, headroom: 1)
        let controller = AdmissionController(segment: try temporary.open(slots: 1, deadline: 0.6), policy: policy)
        guard case .admitted(let holder) = controller.admit(cost: 4) else {
            Issue.record("not admitted")
            return
        }
        #expect(controller.waitForSlot(holder) == .granted)
        let started = MonotonicClock.now
        guard case .admitted(let waiter) = controller.admit(cost: 4, arrival: started - 0.3) else {
            Issue.record("not admitted")
            return
        }
        guard case .refusedAtDeadline = controller.waitForSlot(waiter) else {
            Issue.record("granted a slot that was never free")
            return
        }
        // Latest start: arrival + N - margin - service = 0.3 s - 30 ms - 16 ms after the call.
        let waited = MonotonicClock.now - started
        #expect(waited >= 0.2 && waited < 0.35, "gave up after \(waited) s")
    }

    @Test("when the ring has no free entry the job is refused, and no entry is overwritten")
    func fullRingRefuses() throws {
        let temporary = TemporarySegment()
        let segment = try SharedSegment(
            path: temporary.path, slots: 1, deadline: 1000, initialEstimate: ServiceTimeEstimate(unitSeconds: 1e-9),
            jobCapacity: 1)
        #expect(segment.jobCapacity == SharedSegment.jobCapacityRange.lowerBound)
        let controller = AdmissionController(segment: segment, policy: AdmissionPolicy(deadline: 1000))
        var admitted: [AdmissionController.Ticket] = []
        for _ in 0..<segment.jobCapacity {
            guard case .admitted(let ticket) = controller.admit(cost: 4) else { break }
            admitted.append(ticket)
        }
        #expect(admitted.count == segment.jobCapacity)
        guard case .refused = controller.admit(cost: 4) else {
            Issue.record("admitted into an entry still in use")
            return
        }
        // The first job still holds its slot and its entry.
        #expect(controller.waitForSlot(admitted[0]) == .granted)
        let snapshot = controller.snapshot()
        #expect(snapshot.running == 1 && snapshot.queued == segment.jobCapacity - 1)
    }

    @Test("the ring is sized from what the promise can admit")
    func ringSize() {
        // 64 slots, N = 2 s, 1.1 ms hashes: 116,000 admissible within N, twice over.
        let large = SharedSegment.jobCapacity(slots: 64, deadline: 2, shortestServiceSeconds: 0.0011)
        #expect(large >= 2 * 64 * 2 / 11 * 10_000 && large <= SharedSegment.jobCapacityRange.upperBound)
        #expect(
            SharedSegment.jobCapacity(slots: 2, deadline: 2, shortestServiceSeconds: 0.2)
                == SharedSegment.jobCapacityRange.lowerBound)
        #expect(
            SharedSegment.jobCapacity(slots: 256, deadline: 600, shortestServiceSeconds: 1e-6)
                == SharedSegment.jobCapacityRange.upperBound)
    }

    @Test("a segment others may write is refused with a clear error")
    func writableSegmentRefused() throws {
        let temporary = TemporarySegment()
        let descriptor = temporary.create()
        try #require(descriptor >= 0)
        fchmod(descriptor, 0o666)
        close(descriptor)
        let error = #expect(throws: SystemCallError.self) { _ = try temporary.open() }
        #expect(error?.description.contains("mode 666") == true, "\(String(describing: error))")
        #expect(SharedSegment.attach(path: temporary.path) == nil)
    }

    @Test(
        "a segment planted by another user is refused with a clear error",
        .enabled(if: geteuid() == 0, "only root can plant an object owned by another user"))
    func foreignSegmentRefused() throws {
        let temporary = TemporarySegment()
        let descriptor = temporary.create()
        try #require(descriptor >= 0)
        fchown(descriptor, 65534, 65534)
        close(descriptor)
        let error = #expect(throws: SystemCallError.self) { _ = try temporary.open() }
        #expect(error?.description.contains("owned by uid 65534") == true, "\(String(describing: error))")
        #expect(SharedSegment.attach(path: temporary.path) == nil)
    }
}
