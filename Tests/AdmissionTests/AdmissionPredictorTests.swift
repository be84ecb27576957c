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
