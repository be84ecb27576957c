// Longer than most files: the temporary segment fixture and the tests that use it, together.
import Admission
import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A segment of its own for each test, in a private directory on tmpfs, removed afterwards.
final class TemporarySegment {
    let directory: String
    let path: String

    init() {
        var template = Array("/dev/shm/fl-test.XXXXXX".utf8CString)
        let made = mkdtemp(&template) != nil
        precondition(made, "mkdtemp in /dev/shm failed: \(errno)")
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        path = directory + "/segment"
    }

    deinit {
        SharedSegment.unlink(path: path)
        rmdir(directory)
    }

    func open(slots: Int = 2, deadline: Double = 1) throws -> SharedSegment {
        try SharedSegment(
            path: path, slots: slots, deadline: deadline, initialEstimate: ServiceTimeEstimate(unitSeconds: 0.001))
    }

    /// Creates the segment's file by hand (as another process could have), 0600.
    func create() -> Int32 { Glibc.open(path, O_RDWR | O_CREAT, 0o600) }

    /// Overwrites bytes of the shared object directly, as another binary or a crash could have.
    func poke(offset: Int, bytes: [UInt8]) throws {
        let descriptor = Glibc.open(path, O_RDWR)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
    }
}

@Suite("SharedSegment", .serialized)
struct SharedSegmentTests {
    @Test("the first opener creates the segment, the next attaches and shares its state")
    func createThenAttach() throws {
        let temporary = TemporarySegment()
        let first = try temporary.open()
        #expect(first.outcome == .created)
        let second = try temporary.open()
        #expect(second.outcome == .attached)
        let controller = AdmissionController(segment: first, policy: AdmissionPolicy(deadline: 1))
        guard case .admitted = controller.admit(cost: 4) else {
            Issue.record("not admitted")
            return
        }
        // Admitted into a free slot: the other mapping sees it running.
        #expect(AdmissionSnapshot.read(second).running == 1)
    }

    @Test("a segment of another layout version is replaced, and the reason said")
    func versionMismatch() throws {
        let temporary = TemporarySegment()
        _ = try temporary.open()
        try temporary.poke(offset: 8, bytes: [99, 0, 0, 0])  // the version field follows the 8-byte magic
        let reopened = try temporary.open()
        #expect(reopened.outcome == .replaced(reason: "layout version 99, expected \(SharedSegment.version)"))
        #expect(
            AdmissionController(segment: reopened, policy: AdmissionPolicy(deadline: 1)).snapshot().version
                == SharedSegment.version)
    }

    @Test("a segment of the wrong size or with garbage is replaced")
    func corrupt() throws {
        let temporary = TemporarySegment()
        let descriptor = temporary.create()
        ftruncate(descriptor, 100)
        close(descriptor)
        guard case .replaced(let reason) = try temporary.open().outcome else {
            Issue.record("not replaced")
            return
        }
        #expect(reason.hasPrefix("size 100 bytes"))
        try temporary.poke(offset: 0, bytes: Array(repeating: 0xAB, count: 64))
        guard case .replaced(let garbage) = try temporary.open().outcome else {
            Issue.record("not replaced")
            return
        }
        #expect(garbage.hasPrefix("no fullyloaded segment"))
    }
}

@Suite("AdmissionController", .serialized)
struct AdmissionControllerTests {
    @Test("admits until the predicted completion passes headroom × N, then refuses at once")
    func admitsThenRefuses() throws {
        let temporary = TemporarySegment()
        // 2 slots, cost 8 = 0.256 s, N = 1 s, headroom 0.9: 2 start now, 2 more fit (0.512), 2 more (0.768), then 1.024 > 0.9.
        let controller = AdmissionController(
            segment: try temporary.open(slots: 2, deadline: 1), policy: AdmissionPolicy(deadline: 1))
        var outcomes: [Bool] = []
        for _ in 0..<8 {
            if case .admitted = controller.admit(cost: 8, now: 100) {
                outcomes.append(true)
            } else {
                outcomes.append(false)
            }
        }
        #expect(outcomes == [true, true, true, true, true, true, false, false])
        let snapshot = controller.snapshot(now: 100)
        // The first two take the free slots at once; four wait.
        #expect(snapshot.admitted == 6 && snapshot.refusedAtOnce == 2 && snapshot.running == 2 && snapshot.queued == 4)
        guard case .refused(_, let retryAfter, let answerAt, _) = controller.admit(cost: 8, now: 100) else {
            Issue.record("a ninth job was admitted into a full queue")
            return
        }
        #expect(retryAfter >= 1 && answerAt == 100)
    }

    @Test("slots go in arrival order across controllers, and a finished job frees its slot")
    func fifoAcrossProcesses() throws {
        let temporary = TemporarySegment()
        let policy = AdmissionPolicy(deadline: 5)
        let first = AdmissionController(segment: try temporary.open(slots: 1, deadline: 5), policy: policy)
        let second = AdmissionController(segment: try temporary.open(slots: 1, deadline: 5), policy: policy)
        guard case .admitted(let a) = first.admit(cost: 4), case .admitted(let b) = second.admit(cost: 4),
            case .admitted(let c) = first.admit(cost: 4)
        else {
            Issue.record("not admitted")
            return
        }
        #expect(first.waitForSlot(a) == .granted)
        let order = Mutex<[String]>([])
        // b and c wait while a holds the only slot; a's finish lets b (earlier) in, b's lets c in.
        concurrently(3) { index in
            if index == 2 {
                usleep(50_000)
                first.finish(a, serviceSeconds: 0.001, outcome: .delivered)
            } else if index == 0 {
                #expect(first.waitForSlot(c) == .granted)
                order.withLock { $0.append("c") }
                first.finish(c, serviceSeconds: 0.001, outcome: .delivered)
            } else {
                #expect(second.waitForSlot(b) == .granted)
                order.withLock { $0.append("b") }
                usleep(50_000)
                second.finish(b, serviceSeconds: 0.001, outcome: .delivered)
            }
        }
        #expect(order.withLock { $0 } == ["b", "c"])
        let snapshot = first.snapshot()
        #expect(snapshot.completed == 3 && snapshot.queued == 0 && snapshot.running == 0)
    }

    @Test("a job that cannot start in time is refused at its deadline without running")
    func refusedAtDeadline() throws {
        let temporary = TemporarySegment()
        let policy = AdmissionPolicy(deadline: 0.3, headroom: 1)
        let controller = AdmissionController(segment: try temporary.open(slots: 1, deadline: 0.3), policy: policy)
        guard case .admitted(let holder) = controller.admit(cost: 4),
            case .admitted(let waiter) = controller.admit(cost: 4)
        else {
            Issue.record("not admitted")
            return
        }
        #expect(controller.waitForSlot(holder) == .granted)
        // The holder never finishes (a machine far slower than predicted): the waiter must give up
        // by its latest start, about N after admission, not wait for ever.
        let started = MonotonicClock.now
        guard case .refusedAtDeadline(let retryAfter) = controller.waitForSlot(waiter) else {
            Issue.record("granted a slot that was never free")
            return
        }
        let waited = MonotonicClock.now - started
        #expect(waited >= 0.25 && waited < 0.45, "gave up after \(waited) s")
        #expect(retryAfter >= 1)
        let snapshot = controller.snapshot()
        #expect(snapshot.refusedAtDeadline == 1 && snapshot.queued == 0 && snapshot.running == 1)
    }

    @Test("the sweep frees the jobs of a process that died")
    func sweepsDeadWorkers() throws {
        let temporary = TemporarySegment()
        let segment = try temporary.open(slots: 1, deadline: 5)
        let child = try ChildProcess.spawn(executable: "/bin/true", arguments: [])
        _ = try child.wait(timeout: 10)  // reaped: its pid names no process now
        let dead = AdmissionController(segment: segment, policy: AdmissionPolicy(deadline: 5), processID: child.pid)
        dead.register()
        guard case .admitted(let running) = dead.admit(cost: 4), case .admitted = dead.admit(cost: 4) else {
            Issue.record("not admitted")
            return
        }
        #expect(dead.waitForSlot(running) == .granted)
        let alive = AdmissionController(segment: segment, policy: AdmissionPolicy(deadline: 5))
        alive.register()
        #expect(alive.snapshot().running == 1 && alive.snapshot().queued == 1)
        #expect(alive.heartbeatAndSweep() == 2)
        let snapshot = alive.snapshot()
        #expect(snapshot.running == 0 && snapshot.queued == 0 && snapshot.recoveredJobs == 2)
        #expect(snapshot.workers.map(\.pid) == [getpid()])
        guard case .admitted(let next) = alive.admit(cost: 4) else {
            Issue.record("slot still held")
            return
        }
        #expect(alive.waitForSlot(next) == .granted)
    }
}
