import Synchronization
import Testing

@testable import Worker

@Suite("StatsCache")
struct StatsCacheTests {
    @Test("a crowd asking within the maximum age gets one snapshot; the next one comes after it")
    func oneSnapshotPerAge() {
        let made = Atomic<Int>(0)
        let cache = StatsCache(maximumAge: 0.1) {
            Array("\(made.add(1, ordering: .relaxed).newValue)".utf8)
        }
        for step in 0..<50 {
            #expect(cache.body(now: 10 + Double(step) * 0.001) == Array("1".utf8))
        }
        #expect(made.load(ordering: .relaxed) == 1)
        #expect(cache.body(now: 10.11) == Array("2".utf8))
        #expect(cache.body(now: 10.15) == Array("2".utf8))
        #expect(cache.body(now: 10.25) == Array("3".utf8))
        #expect(made.load(ordering: .relaxed) == 3)
    }
}
