import Bcrypt
import CommandLineOptions
import ServiceDefaults
import Testing

/// The defaults agree with one another and with the ranges the commands enforce: a default the
/// binary would refuse as a flag, or an order that makes no sense, fails here before any run.
@Suite("ServiceDefaults: consistent, and within every flag's range")
struct ServiceDefaultsTests {
    @Test("the cost floor, the policy and the ceiling are in order, within bcrypt's costs and the flags' range")
    func costs() throws {
        #expect(HashDefaults.minimumCost <= HashDefaults.cost && HashDefaults.cost <= HashDefaults.maximumCost)
        for cost in [HashDefaults.minimumCost, HashDefaults.cost, HashDefaults.maximumCost] {
            #expect(BcryptHasher.supportedCosts.contains(cost))
            try FlagRange.cost.check(cost)
        }
        #expect(CostOptions.recommendedMinimumCost == HashDefaults.minimumCost)
    }

    @Test("the promise's defaults pass the checks of --deadline, --headroom and --refusal-rate")
    func promise() throws {
        try FlagRange.deadline.check(PromiseDefaults.deadline)
        try FlagRange.headroom.check(PromiseDefaults.headroom)
        try FlagRange.refusalRate.check(PromiseDefaults.refusalRatePerSlot)
        // A refusal budget of 0 switches pacing off: the default keeps it on.
        #expect(PromiseDefaults.refusalRatePerSlot > 0)
    }

    @Test("request threads are within --threads' range; compute threads run below the request threads")
    func pool() throws {
        try FlagRange.requestThreads.check(PoolDefaults.requestThreads)
        #expect((1...19).contains(PoolDefaults.computeNiceness))
    }

    @Test("the monitor's defaults pass --interval's and --ws-idle-seconds' checks")
    func monitor() throws {
        try FlagRange.interval.check(MonitorDefaults.sampleInterval)
        try FlagRange.webSocketIdle.check(MonitorDefaults.webSocketIdleSeconds)
    }

    @Test("parsing no flags gives these defaults")
    func parsedDefaults() {
        let worker = WorkerOptions.defaults
        #expect(worker.costs.cost == HashDefaults.cost && worker.costs.maxCost == HashDefaults.maximumCost)
        #expect(worker.admission.deadline == PromiseDefaults.deadline)
        #expect(worker.admission.headroom == PromiseDefaults.headroom)
        #expect(worker.admission.refusalRate == PromiseDefaults.refusalRatePerSlot)
        #expect(worker.admission.computeNiceness == PoolDefaults.computeNiceness)
        #expect(worker.threads == PoolDefaults.requestThreads)
        let monitor = MonitorOptions.defaults
        #expect(monitor.interval == MonitorDefaults.sampleInterval && monitor.cost == HashDefaults.cost)
        #expect(monitor.wsIdleSeconds == MonitorDefaults.webSocketIdleSeconds)
    }
}
