import Admission
import Prometheus

/// The dashboard's figures in Prometheus form, for `GET /metrics`.
///
/// The segment keeps totals and bucket counts since it was made; each sample adds what changed,
/// so the counters and histograms here count from the monitor's start. Histogram observations are
/// replayed at their bucket's upper bound (the segment keeps no finer record).
public final class MonitorMetrics: @unchecked Sendable {
    // Touched only from the sampling thread, except `registry`, which is Sendable.
    public let registry: PrometheusCollectorRegistry
    private var cores: [Gauge] = []
    private let cpuTotal: Gauge
    private let ping: Gauge
    private let queued: Gauge
    private let running: Gauge
    private let slots: Gauge
    private let predicted: Gauge
    private let deadline: Gauge
    private let estimate: Gauge
    private let lanes: Gauge
    private let capacity: Gauge
    private let workers: Gauge
    private let memory: [(state: String, gauge: Gauge)]
    private let byAlgorithm: [(algorithm: String, counter: Counter)]
    private let jobs: [(name: String, counter: Counter)]
    private let clients: [(state: String, gauge: Gauge)]
    private let topShares: [Gauge]
    private let pings: Counter
    private let keyOverflows: Counter
    private let histograms: [(name: String, histogram: ValueHistogram)]
    private var previousCounts: [String: UInt64] = [:]
    private var previousBuckets: [String: [UInt64]] = [:]

    /// Registers every metric.
    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        cpuTotal = registry.makeGauge(descriptor: Self.cpuDescriptor, labels: [("core", "all")])
        ping = registry.makeGauge(
            descriptor: Self.name("ping", "seconds", "Latency of the monitor's GET /api/ping through nginx"))
        let jobsNow = Self.name("jobs", "", "Expensive jobs in the shared queue")
        queued = registry.makeGauge(descriptor: jobsNow, labels: [("state", "queued")])
        running = registry.makeGauge(descriptor: jobsNow, labels: [("state", "running")])
        slots = registry.makeGauge(
            descriptor: Self.name("compute_slots", "", "Compute slots shared by the host's workers"))
        predicted = registry.makeGauge(
            descriptor: Self.name(
                "predicted_completion", "seconds", "Predicted answer time of a new job at the configured cost"))
        deadline = registry.makeGauge(descriptor: Self.name("deadline", "seconds", "N: the promised answer time"))
        estimate = registry.makeGauge(
            descriptor: Self.name("service_estimate", "seconds", "Estimated bcrypt time at the configured cost"))
        lanes = registry.makeGauge(
            descriptor: Self.name("batch_lanes", "", "The most jobs one compute slot hashes together (1: none)"))
        capacity = registry.makeGauge(
            descriptor: Self.name(
                "capacity", "jobs_per_second",
                "Jobs per second the slots can finish at the configured cost, by the estimate"))
        workers = registry.makeGauge(
            descriptor: Self.name("workers", "", "Worker processes the shared segment lists as alive"))
        let outcomes = Self.name("jobs", "total", "Expensive jobs by outcome")
        jobs = [
            "admitted", "refused_at_once", "refused_at_deadline", "completed", "failed", "overran", "recovered",
            "paced_refusals", "refused_at_capacity", "refused_over_share", "displaced", "late_arrivals",
        ].map { ($0, registry.makeCounter(descriptor: outcomes, labels: [("outcome", $0)])) }
        let memoryNow = Self.name("hash_memory", "bytes", "Memory of running hashes (argon2id's m), and the budget")
        memory = ["in_use", "budget"].map { ($0, registry.makeGauge(descriptor: memoryNow, labels: [("state", $0)])) }
        let completedBy = Self.name("hashes", "total", "Expensive jobs completed, by algorithm")
        byAlgorithm = ["bcrypt", "argon2id"].map {
            ($0, registry.makeCounter(descriptor: completedBy, labels: [("algorithm", $0)]))
        }
        let clientsNow = Self.name("clients", "", "Clients of the fair share: active, active groups, keys tracked")
        clients = ["active", "active_groups", "tracked"].map {
            ($0, registry.makeGauge(descriptor: clientsNow, labels: [("state", $0)]))
        }
        let share = Self.name(
            "top_client_share", "ratio", "Part of the recent compute time of the clients with the most, by rank")
        topShares = (1...5).map { registry.makeGauge(descriptor: share, labels: [("rank", "\($0)")]) }
        pings = registry.makeCounter(descriptor: Self.name("pings", "total", "Cheap requests answered by the workers"))
        keyOverflows = registry.makeCounter(
            descriptor: Self.name(
                "client_key_overflows", "total", "Requests whose client key found no room in the fair share's table"))
        let bounds = Array(LatencyBuckets.boundsMilliseconds.dropLast().map { $0 / 1000 })
        histograms = [
            ("queue_wait", "queue_wait", "Admission to start of expensive jobs"),
            ("service_time", "service", "bcrypt time of expensive jobs"),
            ("response_time", "response", "Admission to answer of expensive jobs"),
        ].map { ($0.0, registry.makeValueHistogram(descriptor: Self.name($0.1, "seconds", $0.2), buckets: bounds)) }
    }

    private static var cpuDescriptor: MetricNameDescriptor {
        name("cpu_busy", "percent", "CPU busy, per cent, over the last sample")
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "fullyloaded", metricName: metric, unitName: unit, helpText: help)
    }

    /// Takes in one sample and the snapshot it came from.
    public func update(sample: MonitorSample, snapshot: AdmissionSnapshot?) {
        while cores.count < sample.cpu.cores.count {
            cores.append(registry.makeGauge(descriptor: Self.cpuDescriptor, labels: [("core", "\(cores.count)")]))
        }
        for (gauge, value) in zip(cores, sample.cpu.cores) { gauge.set(value) }
        cpuTotal.set(sample.cpu.total)
        if let milliseconds = sample.responsiveness.pingMilliseconds { ping.set(milliseconds / 1000) }
        guard let snapshot else { return }
        queued.set(Double(snapshot.queued))
        running.set(Double(snapshot.running))
        slots.set(Double(snapshot.slots))
        predicted.set(snapshot.predictedCompletion)
        deadline.set(snapshot.deadlineSeconds)
        estimate.set(snapshot.estimateSeconds(cost: snapshot.predictionCost))
        lanes.set(Double(snapshot.lanes))
        capacity.set(snapshot.capacityPerSecond(cost: snapshot.predictionCost))
        workers.set(Double(snapshot.workers.count))
        let totals: [String: UInt64] = [
            "admitted": snapshot.admitted, "refused_at_once": snapshot.refusedAtOnce,
            "refused_at_deadline": snapshot.refusedAtDeadline, "completed": snapshot.completed,
            "failed": snapshot.failed,
            "overran": snapshot.overran, "recovered": snapshot.recoveredJobs, "paced_refusals": snapshot.pacedRefusals,
            "refused_at_capacity": snapshot.refusedAtCapacity, "refused_over_share": snapshot.refusedOverShare,
            "displaced": snapshot.displaced, "late_arrivals": snapshot.lateArrivals,
            "pings": snapshot.workers.reduce(0) { $0 + $1.pings }, "key_overflows": snapshot.keyOverflows,
            "bcrypt": snapshot.completed - snapshot.completedArgon2, "argon2id": snapshot.completedArgon2,
        ]
        for (state, gauge) in memory {
            gauge.set(Double(state == "budget" ? snapshot.memoryBudgetKiB : snapshot.memoryInUseKiB) * 1024)
        }
        let fair = snapshot.fairShare
        for (state, gauge) in clients {
            switch state {
            case "active": gauge.set(Double(fair.activeClients))
            case "active_groups": gauge.set(Double(fair.activeGroups))
            default: gauge.set(Double(fair.trackedKeys))
            }
        }
        for (rank, gauge) in topShares.enumerated() { gauge.set(rank < fair.top.count ? fair.top[rank].share : 0) }
        for (name, counter) in jobs + byAlgorithm + [("pings", pings), ("key_overflows", keyOverflows)] {
            let total = totals[name] ?? 0
            // The first sample and a replaced segment start a new baseline.
            if let before = previousCounts[name], total >= before { counter.increment(by: Int64(total - before)) }
            previousCounts[name] = total
        }
        let bounds = LatencyBuckets.boundsMilliseconds.map { $0.isFinite ? $0 / 1000 : 10 }
        for (name, histogram) in histograms {
            let counts =
                switch name {
                case "queue_wait": snapshot.queueWait.counts
                case "service_time": snapshot.serviceTime.counts
                default: snapshot.responseTime.counts
                }
            if let before = previousBuckets[name], before.count == counts.count {
                for (index, (now, then)) in zip(counts, before).enumerated() where now > then {
                    for _ in 0..<min(now - then, 100_000) { histogram.record(bounds[index]) }
                }
            }
            previousBuckets[name] = counts
        }
    }

    /// The Prometheus text of every metric.
    public func text() -> [UInt8] {
        registry.emitToBuffer()
    }
}
