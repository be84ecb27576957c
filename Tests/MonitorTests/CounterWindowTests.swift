import Monitor
import Testing

@Suite("CounterWindow: the dashboard's rates over about a second")
struct CounterWindowTests {
    /// Readings every 250 ms of a service answering 8 hashes (2 of them argon2id), 4 refusals
    /// and 40 pings a second.
    static func steady(at time: Double) -> CounterWindow.Reading {
        let quarters = UInt64((time * 4).rounded())
        return CounterWindow.Reading(
            time: time, completed: 2 * quarters, completedArgon2: quarters / 2, refused: quarters, pings: 10 * quarters,
            atCapacity: quarters / 2, overShare: quarters / 4, displaced: 0, late: quarters / 4)
    }

    @Test("the first reading gives no rate; later ones the rate since about a second before")
    func steadyRates() {
        var window = CounterWindow()
        #expect(window.add(Self.steady(at: 10)) == CounterWindow.Rates())
        let early = window.add(Self.steady(at: 10.25))
        #expect(early.throughput.hashesPerSecond == 8)
        var rates = early
        for step in 2...20 { rates = window.add(Self.steady(at: 10 + Double(step) * 0.25)) }
        #expect(rates.throughput.hashesPerSecond == 8)
        #expect(rates.throughput.argon2idPerSecond == 2)
        #expect(rates.throughput.refusalsPerSecond == 4)
        #expect(rates.throughput.pingsPerSecond == 40)
        let refusals = rates.refusals
        #expect(refusals.atCapacity == 2 && refusals.overShare == 1 && refusals.displaced == 0 && refusals.late == 1)
    }

    @Test("the window holds about a second: a burst two seconds ago no longer counts")
    func windowLength() {
        var window = CounterWindow()
        _ = window.add(.init(time: 0, completed: 0))
        _ = window.add(.init(time: 0.25, completed: 100))
        var rates = CounterWindow.Rates()
        for step in 2...12 { rates = window.add(.init(time: Double(step) * 0.25, completed: 100)) }
        #expect(rates.throughput.hashesPerSecond == 0)
        // One second of quarter readings, plus the one a second old that starts the window.
        #expect(window.add(.init(time: 3.25, completed: 104)).throughput.hashesPerSecond == 4)
    }

    @Test("a counter that goes back (a replaced segment) starts the window again, never a negative rate")
    func restartedSegment() {
        var window = CounterWindow()
        _ = window.add(.init(time: 0, completed: 500, refused: 50, pings: 900))
        _ = window.add(.init(time: 0.5, completed: 520, refused: 50, pings: 950))
        #expect(window.add(.init(time: 1, completed: 3, refused: 0, pings: 5)) == CounterWindow.Rates())
        #expect(window.add(.init(time: 1.5, completed: 7, refused: 1, pings: 25)).throughput.hashesPerSecond == 8)
    }

    @Test("readings closer than a millisecond divide by a millisecond")
    func tinyInterval() {
        var window = CounterWindow()
        _ = window.add(.init(time: 5, completed: 1))
        #expect(abs(window.add(.init(time: 5, completed: 2)).throughput.hashesPerSecond - 1000) < 1e-9)
    }
}

@Suite("MonitorSample.Wait: the queue waits of the last second")
struct MonitorSampleWaitTests {
    @Test("waits older than a second are left out; percentiles by rank, in milliseconds")
    func percentiles() {
        // Waits of 1/64 s to 20/64 s (15.625 ms steps, exact in binary), and one too old.
        let recent = (1...20).reversed().map { (age: 0.5, wait: Double($0) / 64) } + [(age: 1.5, wait: 9.0)]
        let wait = MonitorSample.Wait(recentWaits: recent)
        #expect(wait.jobs == 20)
        #expect(wait.p50Milliseconds == 11 * 15.625)
        #expect(wait.p95Milliseconds == 20 * 15.625)
        #expect(wait.maxMilliseconds == 20 * 15.625)
    }

    @Test("no job in the last second: no figure, not zero")
    func empty() {
        let wait = MonitorSample.Wait(recentWaits: [(age: 2, wait: 0.3)])
        #expect(wait.jobs == 0)
        #expect(wait.p50Milliseconds == nil && wait.p95Milliseconds == nil && wait.maxMilliseconds == nil)
    }
}
