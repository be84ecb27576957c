import POSIXSupport
import ServiceDefaults

/// A consistent copy of the shared segment's figures: what `/api/stats` returns and the monitor reads.
public struct AdmissionSnapshot: Sendable {
    /// A latency histogram.
    public struct Histogram: Sendable, Equatable {
        /// Counts per bucket (bounds in ``LatencyBuckets``).
        public var counts: [UInt64]
        /// How many durations in all.
        public var total: UInt64
        /// Their sum, in seconds.
        public var sumSeconds: Double
        /// The longest, in seconds.
        public var maxSeconds: Double
    }

    /// One worker process.
    public struct Worker: Sendable, Equatable {
        public var pid: Int32
        public var state: String
        public var uptimeSeconds: Double
        public var heartbeatAgeSeconds: Double
        public var jobsCompleted: UInt64
        public var jobsRefused: UInt64
        /// How often this table entry was taken over after the worker holding it died.
        public var restarts: UInt32
        /// Cheap requests it answered.
        public var pings: UInt64
    }

    /// The fair share among clients.
    public struct FairShare: Sendable, Equatable {
        /// One client (a leaf, or a group that is its own), by recent compute time.
        public struct Client: Sendable, Equatable {
            /// Its kind and a shortened hash of its key: never the key itself.
            public var label: String
            /// Its part of the compute seconds given recently (they halve every 10 s).
            public var share: Double
            public var servedSeconds: Double
            /// Seconds of work it was admitted recently, decaying (halving every 2 N): what its
            /// share is judged by.
            public var recentWorkSeconds: Double
            public var queued: Int
            public var running: Int
            public var admitted: UInt64
            public var refusedAtCapacity: UInt64
            public var refusedOverShare: UInt64
            public var displaced: UInt64
        }

        /// Groups (a /24, a /48, a named user) with jobs waiting or running.
        public var activeGroups: Int
        /// Entries with jobs waiting or running.
        public var activeClients: Int
        /// Keys the table holds that have not aged out.
        public var trackedKeys: Int
        /// The clients with the most recent compute time, most first.
        public var top: [Client]
        /// The entry every key that found no room in the table shares (nil where the table has none).
        public var overflow: Client?
    }

    /// Queue waits of the jobs that got a slot recently: (seconds ago, wait in seconds), newest last.
    public var recentWaits: [(age: Double, wait: Double)]

    public var version: UInt32
    public var slots: Int
    public var deadlineSeconds: Double
    public var queued: Int
    public var running: Int
    /// Seconds of one bcrypt at cost 0 (the estimate); `estimateSeconds(cost)` scales it.
    public var unitSeconds: Double
    public var estimateSamples: UInt64
    /// Seconds of argon2id per KiB and pass (its estimate: m × t of them per job), and the jobs it learnt from.
    public var argon2UnitSeconds: Double
    public var argon2Samples: UInt64
    /// The most memory running jobs may hold together (0: no bound), and what they hold now, in KiB.
    public var memoryBudgetKiB: Int
    public var memoryInUseKiB: Int
    /// The argon2id parameter sets the queue knows now: m, t, and its jobs waiting.
    public var argon2Classes: [(memoryKiB: Int, passes: Int, queued: Int)]
    /// The most jobs one slot runs together (1: every job alone).
    public var lanes: Int
    /// How many jobs' time alone a full batch of ``lanes`` holds its slot for (learnt, or the
    /// prior until a batch has run; 1 without batches).
    public var batchFactor: Double
    /// Full batches the factor has learnt from.
    public var batchSamples: Int
    /// Predicted seconds until a new job at `predictionCost` would be answered.
    public var predictedCompletion: Double
    /// The cost `predictedCompletion` is for.
    public var predictionCost: Int
    public var admitted: UInt64
    public var refusedAtOnce: UInt64
    public var refusedAtDeadline: UInt64
    public var completed: UInt64
    /// Of ``completed``, the argon2id jobs (the rest are bcrypt's).
    public var completedArgon2: UInt64
    public var failed: UInt64
    public var overran: UInt64
    public var recoveredJobs: UInt64
    public var pacedRefusals: UInt64
    /// Refused at once because the time they had waited before reaching a worker left too little of N.
    public var lateArrivals: UInt64
    /// Refused at once because their client was over its fair share (part of ``refusedAtOnce``).
    public var refusedOverShare: UInt64
    /// Admitted, then displaced before they started by a client under its share.
    public var displaced: UInt64
    /// Keys that found no room in the client table.
    public var keyOverflows: UInt64
    /// Refused at once with no client over its share: the host was full.
    public var refusedAtCapacity: UInt64 { refusedAtOnce - min(refusedOverShare, refusedAtOnce) }
    public var fairShare: FairShare
    public var queueWait: Histogram
    public var serviceTime: Histogram
    public var responseTime: Histogram
    public var workers: [Worker]

    /// The service-time estimate at `cost`.
    public func estimateSeconds(cost: Int) -> Double { unitSeconds * ServiceTimeEstimate.work(cost) }

    /// Jobs per second the slots can finish at `cost`, by the estimate: full batches of
    /// ``lanes`` when there are batches, one job at a time otherwise.
    public func capacityPerSecond(cost: Int) -> Double {
        Double(slots * lanes) / (batchFactor * estimateSeconds(cost: cost))
    }

    /// Reads `segment` under its lock; needs no controller (the monitor only reads).
    public static func read(
        _ segment: SharedSegment, predictionCost: Int = HashDefaults.cost, now: Double = MonotonicClock.now
    )
        -> AdmissionSnapshot
    {
        segment.withReadableView { view in AdmissionSnapshot(view: view, now: now, predictionCost: predictionCost) }
    }

    init(view: SegmentView, now: Double, predictionCost: Int) {
        let queue = SlotQueue(storage: view, policy: AdmissionPolicy(deadline: view.deadlineSeconds, lanes: view.lanes))
        version = view.version
        slots = view.slots
        deadlineSeconds = view.deadlineSeconds
        queued = view.queuedCount
        running = view.runningCount
        unitSeconds = queue.estimate.unitSeconds
        estimateSamples = UInt64(view.estimateSamples)
        argon2UnitSeconds = queue.argon2Unit
        argon2Samples = UInt64(view.argon2Samples)
        memoryBudgetKiB = view.memoryBudgetKiB
        memoryInUseKiB = view.memoryInUseKiB
        argon2Classes = (0..<SharedSegment.argon2Classes).compactMap { index in
            let entry = view[argon2Class: index]
            guard entry.memoryKiB > 0 else { return nil }
            return (entry.memoryKiB, entry.passes, view.queuedCount(atCost: index))
        }
        lanes = view.lanes
        batchFactor = queue.batchFactor(lanes: view.lanes)
        batchSamples = view.lanes > 1 ? view[batch: view.lanes].samples : 0
        self.predictionCost = predictionCost
        predictedCompletion = queue.predict(cost: predictionCost, now: now).0.completesIn
        let counters = view.counters
        admitted = counters.admitted
        refusedAtOnce = counters.refusedAtOnce
        refusedAtDeadline = counters.refusedAtDeadline
        completed = counters.completed
        completedArgon2 = min(counters.completedArgon2, counters.completed)
        failed = counters.failed
        overran = counters.overran
        recoveredJobs = counters.recoveredJobs
        pacedRefusals = counters.pacedRefusals
        lateArrivals = counters.lateArrivals
        refusedOverShare = counters.refusedOverShare
        displaced = counters.displaced
        keyOverflows = counters.keyOverflows
        fairShare = queue.fairShareFigures(now: now)
        queueWait = view.histogram(.queueWait)
        serviceTime = view.histogram(.serviceTime)
        responseTime = view.histogram(.responseTime)
        workers = (0..<SegmentView.workerCapacity).compactMap { index in
            let entry = view[worker: index]
            guard entry.state != .empty else { return nil }
            return Worker(
                pid: entry.pid, state: entry.state == .serving ? "serving" : "stopping",
                uptimeSeconds: now - entry.startedAt, heartbeatAgeSeconds: now - entry.heartbeatAt,
                jobsCompleted: entry.jobsCompleted, jobsRefused: entry.jobsRefused, restarts: entry.restarts,
                pings: view.pings(worker: index))
        }
        recentWaits = view.recentWaits(now: now)
    }
}
