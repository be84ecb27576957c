/// One sample the monitor pushes to every dashboard, about four times a second (Docs/monitor.md).
public struct MonitorSample: Codable, Sendable, Equatable {
    public struct CPU: Codable, Sendable, Equatable {
        /// Busy percentage of each core since the previous sample.
        public var cores: [Double]
        /// Busy percentage of all cores.
        public var total: Double
    }

    public struct Responsiveness: Codable, Sendable, Equatable {
        /// The latency of the monitor's own GET /api/ping through nginx, in milliseconds; `nil` if it failed.
        public var pingMilliseconds: Double?
    }

    public struct Throughput: Codable, Sendable, Equatable {
        /// Hashes and verifies answered per second, both algorithms.
        public var hashesPerSecond: Double
        public var refusalsPerSecond: Double
        public var pingsPerSecond: Double
        /// Of ``hashesPerSecond``, the argon2id jobs (the rest are bcrypt's).
        public var argon2idPerSecond: Double = 0

        init(hashesPerSecond: Double, refusalsPerSecond: Double, pingsPerSecond: Double, argon2idPerSecond: Double = 0)
        {
            self.hashesPerSecond = hashesPerSecond
            self.refusalsPerSecond = refusalsPerSecond
            self.pingsPerSecond = pingsPerSecond
            self.argon2idPerSecond = argon2idPerSecond
        }

        /// A peer of an earlier version sends no argon2id figure: read as 0.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            hashesPerSecond = try container.decode(Double.self, forKey: .hashesPerSecond)
            refusalsPerSecond = try container.decode(Double.self, forKey: .refusalsPerSecond)
            pingsPerSecond = try container.decode(Double.self, forKey: .pingsPerSecond)
            argon2idPerSecond = try container.decodeIfPresent(Double.self, forKey: .argon2idPerSecond) ?? 0
        }
    }

    public struct Wait: Codable, Sendable, Equatable {
        /// Queue waits of the jobs that got a slot in the last second, in milliseconds.
        public var p50Milliseconds: Double?
        public var p95Milliseconds: Double?
        public var maxMilliseconds: Double?
        /// How many jobs that is.
        public var jobs: Int
    }

    public struct Queue: Codable, Sendable, Equatable {
        public var queued: Int
        public var running: Int
        public var slots: Int
        /// Predicted seconds until a new job at the configured cost would be answered.
        public var predictedSeconds: Double
        /// N.
        public var deadlineSeconds: Double
        /// The most jobs one slot hashes together (1: every job alone).
        public var lanes: Int
        /// Jobs per second the slots can finish at the configured cost, by the estimate: the
        /// ceiling the hashes' rate rises to under load.
        public var capacityPerSecond: Double
        /// MiB the running jobs hold (argon2id's memory), and the most they may (`--hash-memory`; 0: no bound).
        public var hashMemoryInUse: Double = 0
        public var hashMemoryBudget: Double = 0

        init(
            queued: Int, running: Int, slots: Int, predictedSeconds: Double, deadlineSeconds: Double, lanes: Int,
            capacityPerSecond: Double, hashMemoryInUse: Double = 0, hashMemoryBudget: Double = 0
        ) {
            self.queued = queued
            self.running = running
            self.slots = slots
            self.predictedSeconds = predictedSeconds
            self.deadlineSeconds = deadlineSeconds
            self.lanes = lanes
            self.capacityPerSecond = capacityPerSecond
            self.hashMemoryInUse = hashMemoryInUse
            self.hashMemoryBudget = hashMemoryBudget
        }

        /// A peer of an earlier version sends no memory figures: read as 0.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            queued = try container.decode(Int.self, forKey: .queued)
            running = try container.decode(Int.self, forKey: .running)
            slots = try container.decode(Int.self, forKey: .slots)
            predictedSeconds = try container.decode(Double.self, forKey: .predictedSeconds)
            deadlineSeconds = try container.decode(Double.self, forKey: .deadlineSeconds)
            lanes = try container.decode(Int.self, forKey: .lanes)
            capacityPerSecond = try container.decode(Double.self, forKey: .capacityPerSecond)
            hashMemoryInUse = try container.decodeIfPresent(Double.self, forKey: .hashMemoryInUse) ?? 0
            hashMemoryBudget = try container.decodeIfPresent(Double.self, forKey: .hashMemoryBudget) ?? 0
        }
    }

    public struct Worker: Codable, Sendable, Equatable {
        public var pid: Int32
        public var state: String
        public var uptimeSeconds: Double
        public var restarts: UInt32
        public var jobs: UInt64
        public var refused: UInt64
        public var pings: UInt64
    }

    /// The fair share among clients: who is active, who got the hashing, and why refusals happen.
    public struct FairShare: Codable, Sendable, Equatable {
        /// One of the clients with the most recent compute time (its key hashed, never shown).
        public struct Client: Codable, Sendable, Equatable {
            public var client: String
            /// Its part of the recent compute time (0…1).
            public var share: Double
            public var queued: Int
            public var running: Int
            public var admitted: UInt64
            public var refusedOverShare: UInt64
            public var displaced: UInt64
        }

        /// Refusals per second by reason, over about the last second.
        public struct Refusals: Codable, Sendable, Equatable {
            public var atCapacity: Double
            public var overShare: Double
            public var displaced: Double
            /// Refused at their deadline or answered 503 at N after running long.
            public var late: Double
        }

        public var activeClients: Int
        public var activeGroups: Int
        public var trackedKeys: Int
        public var refusals: Refusals
        public var top: [Client]
    }

    /// One host of a multi-host setup, as the front host's dashboard lists it.
    public struct Host: Codable, Sendable, Equatable {
        public var name: String
        /// Whether its monitor answered this time; the figures are zero when not.
        public var reachable: Bool
        public var cpuTotal: Double
        public var hashesPerSecond: Double
        public var refusalsPerSecond: Double
        public var queued: Int
        public var running: Int
        public var slots: Int
        public var workers: Int
    }

    /// Seconds since the epoch.
    public var time: Double
    /// This host's name (`--host-name`).
    public var host: String
    /// This host, then its peers (`--peer`); only this host when it has none.
    public var hosts: [Host]
    /// The architecture the stack runs (`fine` is the full design).
    public var architecture: String
    public var cpu: CPU
    public var responsiveness: Responsiveness
    public var throughput: Throughput
    public var wait: Wait
    /// `nil` while no worker has made the shared segment.
    public var queue: Queue?
    public var workers: [Worker]
    /// `nil` while no worker has made the shared segment.
    public var fairShare: FairShare?
}

extension MonitorSample {
    /// This sample as one row of a host list.
    public func summary(reachable: Bool = true) -> Host {
        Host(
            name: host, reachable: reachable, cpuTotal: cpu.total, hashesPerSecond: throughput.hashesPerSecond,
            refusalsPerSecond: throughput.refusalsPerSecond, queued: queue?.queued ?? 0, running: queue?.running ?? 0,
            slots: queue?.slots ?? 0, workers: workers.count)
    }
}
