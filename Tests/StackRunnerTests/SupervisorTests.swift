import StackRunner
import Testing

/// The supervisor's rules, with made-up pids and times: no processes, no clock.
@Suite("Supervisor")
struct SupervisorTests {
    /// Two workers (pids 100, 101) and a monitor (200), all listening since t = 0.
    static func stack() -> Supervisor {
        Supervisor(
            running: [("worker 0", true, 100), ("worker 1", true, 101), ("monitor", false, 200)], now: 0)
    }

    /// How many workers serve (listen and are not draining).
    static func serving(_ state: Supervisor) -> Int {
        state.children.filter {
            guard $0.isWorker, case .running = $0.phase else { return false }
            return true
        }.count
    }

    @Test(
        "a child dying as it starts is restarted after 0.2 s, doubling to at most 5 s, for ever; one that ran a while comes back at once"
    )
    func crashLoopBacksOff() {
        var state = Self.stack()
        var now = 10.0
        var pid: Int32 = 100
        var delays: [Double] = []
        for _ in 0..<12 {
            let actions = state.exited(0, pid: pid, status: "exited with status 1", at: now)
            guard case .logCrash(0, _, _, let delay) = actions.first else {
                Issue.record("no crash logged: \(actions)")
                return
            }
            delays.append(delay)
            #expect(state.tick(at: now + delay - 0.01).isEmpty, "not before its time")
            #expect(state.tick(at: now + delay) == [.start(0)])
            now += delay
            pid += 10
            state.started(0, pid: pid, at: now)
            now += 0.05
        }
        #expect(delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, 5, 5, 5, 5], "\(delays)")
        #expect(state.children[0].restarts == 12)
        // Up for a while, then killed: not a crash loop.
        _ = state.listening(0, at: now)
        let actions = state.exited(0, pid: pid, status: "killed by signal 9", at: now + 30)
        #expect(actions == [.logCrash(0, status: "killed by signal 9", restarts: 13, restartIn: 0.1)])
    }

    @Test("recycling replaces workers one at a time: the next drains only once the last replacement listens")
    func recyclingOneAtATime() {
        var state = Self.stack()
        #expect(state.recycleRequested(0, at: 1) == [.terminate(0, pid: 100)])
        #expect(state.recycleRequested(1, at: 1.1).isEmpty, "worker 1 waits its turn")
        #expect(Self.serving(state) == 1)
        #expect(state.exited(0, pid: 100, status: "exited with status 0", at: 2) == [.start(0)])
        state.started(0, pid: 110, at: 2)
        #expect(state.tick(at: 2.5).isEmpty)
        #expect(state.listening(0, at: 3) == [.logReplaced(0, reason: "recycled"), .terminate(1, pid: 101)])
        #expect(state.exited(1, pid: 101, status: "exited with status 0", at: 4) == [.start(1)])
        state.started(1, pid: 111, at: 4)
        #expect(state.listening(1, at: 5) == [.logReplaced(1, reason: "recycled")])
        #expect(Self.serving(state) == 2)
        #expect(!state.isReplacing(reason: "recycled"))
        #expect(state.children[0].restarts == 0, "a replacement is no crash")
    }

    @Test(
        "SIGHUP during a recycle: the worker being replaced is not replaced again, the other follows, never two at once"
    )
    func rollingRestartDuringRecycle() {
        var state = Self.stack()
        #expect(state.recycleRequested(1, at: 1) == [.terminate(1, pid: 101)])
        #expect(state.rollingRestartRequested(at: 1.5).isEmpty, "one replacement at a time")
        #expect(state.exited(1, pid: 101, status: "exited with status 0", at: 2) == [.start(1)])
        state.started(1, pid: 111, at: 2)
        #expect(state.listening(1, at: 3) == [.logReplaced(1, reason: "recycled"), .terminate(0, pid: 100)])
        #expect(state.isReplacing(reason: "rolled"))
        #expect(state.exited(0, pid: 100, status: "exited with status 0", at: 4) == [.start(0)])
        state.started(0, pid: 110, at: 4)
        #expect(state.listening(0, at: 5) == [.logReplaced(0, reason: "rolled")])
        #expect(!state.isReplacing(reason: "rolled"))
        #expect(state.tick(at: 30).isEmpty, "worker 1 is not replaced a second time")
        #expect(state.children.map(\.pid) == [110, 111, 200], "the monitor is never replaced")
    }

    @Test(
        "a replacement that never listens is killed and retried like a crash; the stack keeps serving and the queue moves on"
    )
    func failedReplacementKeepsServing() {
        var state = Self.stack()
        _ = state.rollingRestartRequested(at: 1)
        #expect(state.exited(0, pid: 100, status: "exited with status 0", at: 2) == [.start(0)])
        state.started(0, pid: 110, at: 2)
        #expect(state.tick(at: 2 + state.readyTimeout).isEmpty, "at the timeout, not before")
        let actions = state.tick(at: 2.1 + state.readyTimeout)
        #expect(actions.first == .kill(0, pid: 110))
        #expect(actions.contains(.logReplacementFailed(0, reason: "rolled")))
        #expect(actions.contains { if case .logCrash(0, _, _, _) = $0 { true } else { false } })
        #expect(actions.last == .terminate(1, pid: 101), "the next worker's turn")
        // The killed process's exit, reaped later, is stale: nothing happens.
        #expect(state.exited(0, pid: 110, status: "killed by signal 9", at: 23).isEmpty)
        // Worker 0 comes back after the back-off; worker 1 is replaced meanwhile.
        #expect(state.tick(at: 22.3).contains(.start(0)))
        state.started(0, pid: 120, at: 22.3)
        #expect(state.listening(0, at: 22.5).isEmpty, "a crash restart logs no replacement")
        #expect(state.exited(1, pid: 101, status: "exited with status 0", at: 23) == [.start(1)])
        state.started(1, pid: 121, at: 23)
        #expect(state.listening(1, at: 23.5) == [.logReplaced(1, reason: "rolled")])
        #expect(Self.serving(state) == 2)
    }

    @Test("a replacement that dies as it starts fails the same way; a drain past its grace is killed")
    func replacementCrashAndSlowDrain() {
        var state = Self.stack()
        #expect(state.recycleRequested(0, at: 1) == [.terminate(0, pid: 100)])
        #expect(state.tick(at: 1 + state.drainGrace + 0.1) == [.kill(0, pid: 100)])
        #expect(state.exited(0, pid: 100, status: "killed by signal 9", at: 17) == [.start(0)])
        state.started(0, pid: 110, at: 17)
        let actions = state.exited(0, pid: 110, status: "exited with status 64", at: 17.2)
        #expect(
            actions == [
                .logCrash(0, status: "exited with status 64", restarts: 1, restartIn: 0.2),
                .logReplacementFailed(0, reason: "recycled"),
            ])
        #expect(!state.isReplacing(reason: "recycled"))
        #expect(state.recycleRequested(2, at: 18).isEmpty, "a monitor is never recycled")
    }
}
