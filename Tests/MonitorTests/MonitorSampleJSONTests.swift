import Foundation
import Testing

@testable import Monitor

/// The sample's JSON, written by the one renderer, read back as the peers and the dashboard read it.
@Suite("MonitorSample's JSON")
struct MonitorSampleJSONTests {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static var full: MonitorSample {
        var sample = MonitorSample(
            time: 1_765_012_345.25, host: "host \"a\"", hosts: [], architecture: "fine",
            cpu: .init(cores: [99.5, 12.25], total: 55.875),
            responsiveness: .init(pingMilliseconds: 1.5),
            throughput: .init(
                hashesPerSecond: 7.25, refusalsPerSecond: 200.5, pingsPerSecond: 4, argon2idPerSecond: 3.5),
            wait: .init(p50Milliseconds: 120.5, p95Milliseconds: 900.25, maxMilliseconds: 1700, jobs: 9),
            queue: .init(
                queued: 11, running: 2, slots: 2, predictedSeconds: 1.93, deadlineSeconds: 2, lanes: 4,
                capacityPerSecond: 16.6, hashMemoryInUse: 19, hashMemoryBudget: 6144),
            workers: [
                .init(
                    pid: 4632, state: "serving", uptimeSeconds: 63.25, restarts: 1, jobs: 209, refused: 2561, pings: 40)
            ],
            fairShare: .init(
                activeClients: 2, activeGroups: 1, trackedKeys: 3,
                refusals: .init(atCapacity: 1.5, overShare: 190.25, displaced: 0.5, late: 0),
                top: [
                    .init(
                        client: "ipv4:3fa9c1d2", share: 0.8125, queued: 9, running: 2, admitted: 380,
                        refusedOverShare: 5080, displaced: 12)
                ]))
        sample.hosts = [sample.summary(), sample.summary(reachable: false)]
        return sample
    }

    @Test("every field survives the round trip through the text, in snake_case, keys sorted")
    func roundTrip() throws {
        let sample = Self.full
        let text = sample.json.text
        #expect(try Self.decoder.decode(MonitorSample.self, from: Data(text.utf8)) == sample)
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]).keys
        #expect(
            keys.sorted() == [
                "architecture", "cpu", "fair_share", "host", "hosts", "queue", "responsiveness", "throughput", "time",
                "wait", "workers",
            ])
        #expect(text.hasPrefix(#"{"architecture":"fine","cpu":{"cores":[99.5,12.25],"total":55.875},"fair_share":"#))
    }

    @Test("absent optionals are left out, as before any worker made the segment")
    func absentOptionals() throws {
        var sample = Self.full
        sample.queue = nil
        sample.fairShare = nil
        sample.responsiveness.pingMilliseconds = nil
        sample.wait = .init(p50Milliseconds: nil, p95Milliseconds: nil, maxMilliseconds: nil, jobs: 0)
        let text = sample.json.text
        #expect(!text.contains("\"queue\"") && !text.contains("fair_share") && !text.contains("ping_milliseconds"))
        #expect(text.contains(#""wait":{"jobs":0}"#))
        #expect(try Self.decoder.decode(MonitorSample.self, from: Data(text.utf8)) == sample)
    }

    @Test("a peer of an earlier version, without the argon2id and memory figures, still reads")
    func earlierPeer() throws {
        let text = Self.full.json.text
            .replacingOccurrences(of: #""argon2id_per_second":3.5,"#, with: "")
            .replacingOccurrences(of: #""hash_memory_budget":6144.0,"hash_memory_in_use":19.0,"#, with: "")
        #expect(!text.contains("argon2id") && !text.contains("hash_memory"), "\(text)")
        let sample = try Self.decoder.decode(MonitorSample.self, from: Data(text.utf8))
        #expect(sample.throughput.argon2idPerSecond == 0 && sample.queue?.hashMemoryBudget == 0)
    }
}
