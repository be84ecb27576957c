import Testing

@testable import Worker

@Suite("Recycling: when a worker with --max-requests leaves")
struct RecyclingTests {
    @Test("without a limit the worker serves for ever")
    func noLimit() {
        var recycling = Recycling(limit: nil, byParent: true)
        #expect(recycling.action(served: 1_000_000, now: 5) == .serve)
    }

    @Test("on its own, the worker stops at the limit, not before")
    func stopsAtLimit() {
        var recycling = Recycling(limit: 100, byParent: false)
        #expect(recycling.action(served: 99, now: 1) == .serve)
        #expect(recycling.action(served: 100, now: 1.1) == .stop)
        #expect(recycling.action(served: 130, now: 1.2) == .stop)
    }

    @Test("under up, the worker asks its parent at the limit, again each second, and keeps serving")
    func asksParentEachSecond() {
        var recycling = Recycling(limit: 100, byParent: true)
        #expect(recycling.action(served: 99, now: 10) == .serve)
        #expect(recycling.action(served: 100, now: 10.1) == .askParent)
        // The wait loop asks ten times a second: one signal a second, not ten.
        for step in 1...9 { #expect(recycling.action(served: 101, now: 10.1 + Double(step) * 0.1 - 0.001) == .serve) }
        #expect(recycling.action(served: 110, now: 11.1) == .askParent)
        #expect(recycling.action(served: 111, now: 11.5) == .serve)
    }
}
