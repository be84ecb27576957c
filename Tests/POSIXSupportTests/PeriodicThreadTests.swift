import POSIXSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("PeriodicThread")
struct PeriodicThreadTests {
    @Test("runs its body round after round until stopped, and none after stop() returns")
    func stops() throws {
        let rounds = Atomic<Int>(0)
        let thread = try PeriodicThread(name: "test-periodic", interval: 0.005) {
            rounds.add(1, ordering: .relaxed)
        }
        // However slow the machine, rounds go on while it runs.
        var waited = 0
        while rounds.load(ordering: .relaxed) < 3, waited < 1000 {
            usleep(10_000)
            waited += 1
        }
        #expect(rounds.load(ordering: .relaxed) >= 3)
        thread.stop()
        let atStop = rounds.load(ordering: .relaxed)
        usleep(50_000)
        #expect(rounds.load(ordering: .relaxed) == atStop, "a round ran after stop() returned")
        thread.stop()  // a second stop returns at once
    }

    @Test("stop() wakes the thread from its wait: it does not wait out a long interval")
    func stopWakes() throws {
        let rounds = Atomic<Int>(0)
        let thread = try PeriodicThread(name: "test-periodic", interval: 3600) { rounds.add(1, ordering: .relaxed) }
        var waited = 0
        while rounds.load(ordering: .relaxed) < 1, waited < 1000 {
            usleep(10_000)
            waited += 1
        }
        let started = MonotonicClock.now
        thread.stop()
        // An hour's interval: only the wake-up can have ended it; a minute allows any machine.
        #expect(MonotonicClock.now - started < 60)
        #expect(rounds.load(ordering: .relaxed) == 1)
    }
}
