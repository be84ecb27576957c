// Longer than most files: table-driven cases: most lines are the table.
import Admission
import Testing

@Suite("AdmissionPredictor and AdmissionPolicy")
struct AdmissionPredictorTests {
    /// 1 ms at cost 0 would be absurd for bcrypt but keeps the table readable: cost c takes 2^c ms.
    static let estimate = ServiceTimeEstimate(unitSeconds: 0.001)

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let slots: Int
        let running: [AdmissionPredictor.RunningJob]
        let queued: [Int]
        let newCost: Int
        let startsIn: Double
        let completesIn: Double
        let drainsIn: Double
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(
            name: "idle", slots: 2, running: [], queued: [], newCost: 8, startsIn: 0, completesIn: 0.256, drainsIn: 0),
        .init(
            name: "one slot busy, one idle: start at once", slots: 2, running: [.init(cost: 8, elapsed: 0.1)],
            queued: [],
            newCost: 8, startsIn: 0, completesIn: 0.256, drainsIn: 0.156),
        .init(
            name: "all slots busy: wait for the first to free", slots: 2,
            running: [.init(cost: 8, elapsed: 0.1), .init(cost: 8, elapsed: 0.2)], queued: [], newCost: 8,
            startsIn: 0.056, completesIn: 0.312, drainsIn: 0.156),
        .init(
            name: "queued jobs take the slots in order", slots: 2,
            running: [.init(cost: 8, elapsed: 0), .init(cost: 8, elapsed: 0)], queued: [8, 8, 8], newCost: 8,
            startsIn: 0.512, completesIn: 0.768, drainsIn: 0.768),
        .init(
            name: "mixed costs: a cost-10 job holds its slot four times longer", slots: 2, running: [],
            queued: [10, 8, 8], newCost: 8, startsIn: 0.512, completesIn: 0.768, drainsIn: 1.024),
        .init(
            name: "one slot: everything ahead adds up", slots: 1, running: [.init(cost: 6, elapsed: 0.032)],
            queued: [6, 7], newCost: 4, startsIn: 0.224, completesIn: 0.240, drainsIn: 0.224),
        .init(
            name: "a running job past its estimate frees its slot now", slots: 1, running: [.init(cost: 8, elapsed: 1)],
            queued: [], newCost: 8, startsIn: 0, completesIn: 0.256, drainsIn: 0),
    ]

    @Test("predicts start, completion and drain", arguments: cases)
    func predicts(_ example: Case) {
        let predictor = AdmissionPredictor(slots: example.slots, estimate: Self.estimate)
        let prediction = predictor.predict(running: example.running, queued: example.queued, newCost: example.newCost)
        #expect(abs(prediction.startsIn - example.startsIn) < 1e-9, "starts in \(prediction.startsIn)")
        #expect(abs(prediction.completesIn - example.completesIn) < 1e-9, "completes in \(prediction.completesIn)")
        #expect(abs(prediction.drainsIn - example.drainsIn) < 1e-9, "drains in \(prediction.drainsIn)")
    }

    @Test("admits within headroom × N; refuses beyond with a Retry-After of at least 1 s")
    func decides() {
        let policy = AdmissionPolicy(deadline: 2, headroom: 0.9)
        let fits = AdmissionPredictor.Prediction(startsIn: 1.5, completesIn: 1.8, drainsIn: 1.5)
        #expect(policy.decide(fits, serviceSeconds: 0.3) == .admit)
        let barely = AdmissionPredictor.Prediction(startsIn: 1.55, completesIn: 1.85, drainsIn: 1.55)
        #expect(policy.decide(barely, serviceSeconds: 0.3) == .refuse(retryAfterSeconds: 1))
        // Starts in 6.5 s; it would fit once the start is down to 1.5 s: come back in 5 s.
        let far = AdmissionPredictor.Prediction(startsIn: 6.5, completesIn: 6.8, drainsIn: 7)
        #expect(policy.decide(far, serviceSeconds: 0.3) == .refuse(retryAfterSeconds: 5))
        #expect(policy.answerMargin == 0.05 && AdmissionPolicy(deadline: 0.3).answerMargin == 0.015)
        #expect(abs(policy.latestStart(serviceSeconds: 0.3) - 1.65) < 1e-12)
    }

    @Test("the refusal budget lets a burst through, then paces, never past headroom × N")
    func pacesRefusals() {
        let policy = AdmissionPolicy(deadline: 2, headroom: 0.9, refusalRate: 100)
        var tat = 0.0
        var answers: [Double] = []
        for _ in 0..<400 {
            let paced = policy.paceRefusal(now: 10, theoreticalArrival: tat)
            tat = paced.newTAT
            answers.append(paced.answerAt)
        }
        let burst = Int(AdmissionPolicy.refusalBurstSeconds * 100) + 1
        #expect(answers.prefix(burst).allSatisfy { $0 == 10 })
        #expect(abs(answers[burst + 9] - answers[burst - 1] - 0.1) < 1e-9, "then 100 per second")
        #expect(answers.max()! == 10 + 1.8)

        let unpaced = AdmissionPolicy(deadline: 2, refusalRate: 0)
        #expect(unpaced.paceRefusal(now: 5, theoreticalArrival: 100).answerAt == 5)
    }
}

@Suite("ServiceTimeEstimate")
struct ServiceTimeEstimateTests {
    @Test("work doubles with each cost step")
    func doubling() {
        let estimate = ServiceTimeEstimate(seconds: 0.25, atCost: 12)
        #expect(estimate.seconds(forCost: 12) == 0.25)
        #expect(estimate.seconds(forCost: 13) == 0.5)
        #expect(estimate.seconds(forCost: 10) == 0.0625)
    }

    @Test("learns quickly from a poor start, then smooths")
    func learns() {
        var estimate = ServiceTimeEstimate(seconds: 1.0, atCost: 12)
        estimate.observe(seconds: 0.25, atCost: 12)
        #expect(estimate.seconds(forCost: 12) < 0.7, "the first observations weigh half and more")
        for _ in 0..<40 { estimate.observe(seconds: 0.25, atCost: 12) }
        #expect(abs(estimate.seconds(forCost: 12) - 0.25) < 0.01)
        estimate.observe(seconds: 2.5, atCost: 12)
        #expect(estimate.seconds(forCost: 12) < 0.5, "one outlier moves it by the smoothing weight only")
        // Observations at another cost teach the same unit.
        var mixed = ServiceTimeEstimate(seconds: 1.0, atCost: 12)
        for _ in 0..<60 { mixed.observe(seconds: 0.0625, atCost: 10) }
        #expect(abs(mixed.seconds(forCost: 12) - 0.25) < 0.01)
    }

    @Test("ignores durations that are not positive and finite")
    func ignoresNonsense() {
        var estimate = ServiceTimeEstimate(seconds: 0.25, atCost: 12)
        estimate.observe(seconds: 0, atCost: 12)
        estimate.observe(seconds: -1, atCost: 12)
        estimate.observe(seconds: .nan, atCost: 12)
        #expect(estimate.samples == 0 && estimate.seconds(forCost: 12) == 0.25)
    }

    @Test("latency buckets")
    func buckets() {
        #expect(LatencyBuckets.index(forSeconds: 0.0005) == 0)
        #expect(LatencyBuckets.index(forSeconds: 0.25) == 8)
        #expect(LatencyBuckets.index(forSeconds: 60) == LatencyBuckets.boundsMilliseconds.count - 1)
    }
}

@Suite("AdmissionPredictor against list scheduling")
struct AdmissionPredictorScheduleTests {
    /// FIFO list scheduling done the long way: each waiting job on the slot that frees first.
    static func simulated(freeAt initial: [Double], queued: [Double], slots: Int) -> (start: Double, drain: Double) {
        var freeAt = initial + Array(repeating: 0, count: max(0, slots - initial.count))
        for service in queued {
            let slot = freeAt.indices.min { freeAt[$0] < freeAt[$1] }!
            freeAt[slot] += service
        }
        return (freeAt.min()!, freeAt.max()!)
    }

    @Test("one cost: the same start as placing every waiting job, for any slots, running jobs and queue length")
    func exactForOneCost() {
        var generator = SystemRandomNumberGenerator()
        let estimate = ServiceTimeEstimate(unitSeconds: 0.001)
        for _ in 0..<300 {
            let slots = Int.random(in: 1...64, using: &generator)
            let cost = Int.random(in: 4...12, using: &generator)
            let service = estimate.seconds(forCost: cost)
            let running = (0..<Int.random(in: 0...slots, using: &generator)).map { _ in
                AdmissionPredictor.RunningJob(cost: cost, elapsed: Double.random(in: 0...service, using: &generator))
            }
            let queued = Array(repeating: cost, count: Int.random(in: 0...2000, using: &generator))
            let prediction = AdmissionPredictor(slots: slots, estimate: estimate).predict(
                running: running, queue: QueueSummary(costs: queued), newCost: cost)
            let expected = Self.simulated(
                freeAt: running.map { service - $0.elapsed }, queued: queued.map { _ in service }, slots: slots)
            #expect(abs(prediction.startsIn - expected.start) < 1e-6, "slots \(slots), \(queued.count) waiting")
            #expect(abs(prediction.drainsIn - expected.drain) < 1e-6, "slots \(slots), \(queued.count) waiting")
        }
    }

    @Test("mixed costs: as if each waiting job took the average, never below the work's fair share")
    func averageForMixedCosts() {
        let estimate = ServiceTimeEstimate(unitSeconds: 0.001)
        let predictor = AdmissionPredictor(slots: 4, estimate: estimate)
        let queued = [6, 10, 8, 8, 12, 6, 6, 10]
        let prediction = predictor.predict(running: [], queue: QueueSummary(costs: queued), newCost: 8)
        let work = queued.reduce(0.0) { $0 + estimate.seconds(forCost: $1) }
        #expect(prediction.startsIn >= work / 4 - estimate.seconds(forCost: 12))
        #expect(prediction.startsIn <= work / 4 + estimate.seconds(forCost: 12))
    }

    @Test("a queue of a million costs no more to predict than one of ten")
    func costDoesNotGrowWithTheQueue() {
        let predictor = AdmissionPredictor(slots: 64, estimate: ServiceTimeEstimate(unitSeconds: 0.001))
        var queue = QueueSummary()
        queue.add(cost: 10, count: 1_000_000)
        let prediction = predictor.predict(running: [], queue: queue, newCost: 10)
        // 1,000,000 jobs of 1.024 s over 64 slots: the new one starts after 15,625 rounds.
        #expect(abs(prediction.startsIn - 15_625 * 1.024) < 1e-6)
    }
}

@Suite("AdmissionPolicy from the request's arrival")
struct AdmissionPolicyArrivalTests {
    @Test("time spent before reaching a worker counts against N")
    func elapsedCounts() {
        let policy = AdmissionPolicy(deadline: 2, headroom: 0.9)
        let prediction = AdmissionPredictor.Prediction(startsIn: 0.5, completesIn: 0.8, drainsIn: 0.5)
        #expect(policy.decide(prediction, serviceSeconds: 0.3, elapsed: 0) == .admit)
        #expect(policy.decide(prediction, serviceSeconds: 0.3, elapsed: 1.0) == .admit)
        #expect(policy.decide(prediction, serviceSeconds: 0.3, elapsed: 1.01) == .refuse(retryAfterSeconds: 1))
    }

    @Test("a held refusal leaves within headroom × N of arrival, and the budget recovers within N")
    func heldFromArrival() {
        let policy = AdmissionPolicy(deadline: 2, headroom: 0.9, refusalRate: 10)
        var tat = 0.0
        for _ in 0..<10_000 {
            let paced = policy.paceRefusal(now: 50, arrival: 49.5, theoreticalArrival: tat)
            #expect(paced.answerAt <= 49.5 + 1.8 + 1e-9)
            tat = paced.newTAT
        }
        #expect(tat <= 50 + 1.8 + AdmissionPolicy.refusalBurstSeconds + 0.1 + 1e-9, "the budget ran ahead to \(tat)")
        // Arrived too long ago to be held at all: it leaves now.
        #expect(policy.paceRefusal(now: 50, arrival: 47, theoreticalArrival: tat).answerAt == 50)
        // N later, a burst leaves at once again.
        #expect(policy.paceRefusal(now: 52.1, arrival: 52.1, theoreticalArrival: tat).answerAt == 52.1)
    }
}

@Suite("PoolSizing")
struct PoolSizingTests {
    @Test("cheap routes keep a quarter of the threads whatever expensive requests and kept connections take")
    func cheapThreadsStayFree() {
        for threads in [16, 64, 100, 256, 512, 1000, 4096] {
            for processes in [1, 2, 4, 8, 16, 64] {
                let sizing = PoolSizing(requestThreads: threads, nginxProcesses: processes)
                #expect(sizing.cheapThreads >= threads / 4, "\(threads) threads, \(processes) nginx processes")
                #expect(sizing.heldRefusals < sizing.expensiveRequests)
                #expect(sizing.pinnedThreads <= threads / 4)
                #expect(sizing.keptConnectionsPerUpstream != nil || threads < 8 * processes)
            }
        }
        #expect(PoolSizing(requestThreads: 1, nginxProcesses: 2).keptConnectionsPerUpstream == nil)
        #expect(PoolSizing(requestThreads: 512, nginxProcesses: 2).expensiveRequests == 256)
    }
}
