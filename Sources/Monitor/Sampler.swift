import Admission
import Foundation
import LoopbackHTTP
import POSIXSupport

/// Takes the dashboard's samples: CPU from /proc/stat, the shared segment's queue and counters,
/// and a real ping through nginx, the latency a user would feel.
public final class Sampler {
    private let segmentPath: String
    private var segment: SharedSegment?
    private let ping: LoopbackHTTPClient
    private let predictionCost: Int
    private let architecture: String
    private var previous: ProcStat?
    /// The counters of about the last second, for the rates.
    private var counters = CounterWindow()

    /// Another host's monitor, read for the host list.
    public struct Peer: Sendable {
        public var name: String
        public var endpoint: SocketEndpoint

        public init(name: String, endpoint: SocketEndpoint) {
            self.name = name
            self.endpoint = endpoint
        }
    }

    private let hostName: String
    private let peers: [Peer]
    private let peerDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// Creates a sampler for the segment at `segmentPath`, pinging through nginx at `ping`.
    public init(
        segmentPath: String, ping: LoopbackHTTPClient, predictionCost: Int, architecture: String,
        hostName: String = "localhost", peers: [Peer] = []
    ) {
        self.hostName = hostName
        self.peers = peers
        self.segmentPath = segmentPath
        self.ping = ping
        self.predictionCost = predictionCost
        self.architecture = architecture
    }

    /// The latest snapshot of the segment, if there is one.
    public private(set) var lastSnapshot: AdmissionSnapshot?

    /// Takes one sample; rates are per second since the previous call.
    public func sample() -> MonitorSample {
        // Read only: the monitor never registers, it takes no part in the queue.
        if segment == nil { segment = SharedSegment.attach(path: segmentPath) }
        let started = MonotonicClock.now
        let pingOK = (try? ping.request("GET", "/api/ping").status) == 200
        let pingMilliseconds = pingOK ? (MonotonicClock.now - started) * 1000 : nil

        let now = MonotonicClock.now
        let cpu = ProcStat.read()
        let snapshot = segment.map { AdmissionSnapshot.read($0, predictionCost: predictionCost, now: now) }
        lastSnapshot = snapshot
        var busy: (all: Double, cores: [Double]) = (0, [])
        if let cpu, let previous { busy = cpu.busyPercent(since: previous) }
        previous = cpu
        let rates = counters.add(
            snapshot.map {
                CounterWindow.Reading(
                    time: now, completed: $0.completed, completedArgon2: $0.completedArgon2,
                    refused: $0.refusedAtOnce + $0.refusedAtDeadline + $0.overran,
                    pings: $0.workers.reduce(0) { $0 + $1.pings }, atCapacity: $0.refusedAtCapacity,
                    overShare: $0.refusedOverShare, displaced: $0.displaced, late: $0.refusedAtDeadline + $0.overran)
            } ?? CounterWindow.Reading(time: now))
        var sample = MonitorSample(
            time: Date().timeIntervalSince1970, host: hostName, hosts: [], architecture: architecture,
            cpu: .init(cores: busy.cores, total: busy.all),
            responsiveness: .init(pingMilliseconds: pingMilliseconds),
            throughput: rates.throughput,
            wait: .init(recentWaits: snapshot?.recentWaits ?? []),
            queue: snapshot.map {
                .init(
                    queued: $0.queued, running: $0.running, slots: $0.slots, predictedSeconds: $0.predictedCompletion,
                    deadlineSeconds: $0.deadlineSeconds, lanes: $0.lanes,
                    capacityPerSecond: $0.capacityPerSecond(cost: $0.predictionCost),
                    hashMemoryInUse: Double($0.memoryInUseKiB) / 1024,
                    hashMemoryBudget: Double($0.memoryBudgetKiB) / 1024)
            },
            workers: (snapshot?.workers ?? []).map {
                .init(
                    pid: $0.pid, state: $0.state, uptimeSeconds: $0.uptimeSeconds, restarts: $0.restarts,
                    jobs: $0.jobsCompleted, refused: $0.jobsRefused, pings: $0.pings)
            },
            fairShare: snapshot.map { snapshot in
                let fair = snapshot.fairShare
                return .init(
                    activeClients: fair.activeClients, activeGroups: fair.activeGroups, trackedKeys: fair.trackedKeys,
                    refusals: rates.refusals,
                    top: fair.top.map {
                        .init(
                            client: $0.label, share: $0.share, queued: $0.queued, running: $0.running,
                            admitted: $0.admitted, refusedOverShare: $0.refusedOverShare, displaced: $0.displaced)
                    })
            })
        sample.hosts = [sample.summary()] + peers.map(peerSummary)
        return sample
    }

    /// A peer's newest sample, read with a short timeout: a host that is down or cut off shows
    /// as unreachable without holding up this one's samples.
    private func peerSummary(_ peer: Peer) -> MonitorSample.Host {
        let client = LoopbackHTTPClient(endpoint: peer.endpoint, timeout: 0.1)
        if let response = try? client.request("GET", "/sample"), response.status == 200,
            var summary = try? peerDecoder.decode(MonitorSample.self, from: Data(response.body)).summary()
        {
            summary.name = peer.name
            return summary
        }
        return MonitorSample.Host(
            name: peer.name, reachable: false, cpuTotal: 0, hashesPerSecond: 0, refusalsPerSecond: 0, queued: 0,
            running: 0, slots: 0, workers: 0)
    }
}

extension Sampler {
    /// Samples every `interval` seconds for ever: each sample updates `metrics` and goes to every
    /// dashboard through `broadcaster`. A slow sample (a peer that does not answer) delays the
    /// next one, never makes two follow at once.
    public func run(every interval: Double, metrics: MonitorMetrics, broadcaster: SampleBroadcaster) -> Never {
        var next = MonotonicClock.now
        while true {
            let sample = sample()
            metrics.update(sample: sample, snapshot: lastSnapshot)
            broadcaster.publish(sample.json.text)
            next += interval
            let wait = next - MonotonicClock.now
            if wait > 0 { usleep(UInt32(wait * 1_000_000)) } else { next = MonotonicClock.now }
        }
    }
}
