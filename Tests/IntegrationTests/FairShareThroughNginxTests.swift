// Longer than most files: each test starts a stack and a fair-load run from the measured hash time; the report reader is shared.
import Foundation
import POSIXSupport
import StackRunner
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fair share through the real thing: nginx, worker processes and the shared segment, with
/// clients on loopback source addresses of their own (`Deploy/bench/fairload.py`). Loads, costs
/// and N come from this machine's measured hash time.
@Suite("The fair share through nginx, by client", .serialized)
struct FairShareThroughNginxTests {
    /// One client's figures in a `fairload.py` report.
    struct ClientReport {
        var json: [String: Any]
        var sent: Int { json["sent"] as? Int ?? 0 }
        var statuses: [String: Int] { json["statuses"] as? [String: Int] ?? [:] }
        var reasons: [String: Int] { json["reasons"] as? [String: Int] ?? [:] }
        var okFraction: Double { json["ok_fraction"] as? Double ?? 0 }
        var goodput: Double { json["goodput"] as? Double ?? 0 }
        var events: [(sent: Double, status: Int, reason: String?, finished: Double)] {
            (json["events"] as? [[String: Any]] ?? []).map {
                (
                    $0["sent"] as? Double ?? 0, $0["status"] as? Int ?? 0, $0["reason"] as? String,
                    $0["finished"] as? Double ?? 0
                )
            }
        }
    }

    struct Report {
        var json: [String: Any]
        func client(_ name: String) -> ClientReport {
            ClientReport(json: (json["clients"] as? [String: Any])?[name] as? [String: Any] ?? [:])
        }
        var pingFailed: Int { (json["ping"] as? [String: Any])?["failed"] as? Int ?? -1 }
    }

    /// Runs `fairload.py` with `clients` (JSON) against `stack` for `seconds`.
    static func load(
        _ stack: TestStack, clients: String, seconds: Double, deadline: Double, events: Bool = false
    ) throws -> Report {
        let run = try Command.run(
            "/usr/bin/python3",
            [
                TestFiles.checkout + "/Deploy/bench/fairload.py", "--port", "\(stack.port)", "--seconds", "\(seconds)",
                "--deadline", "\(deadline)", "--clients", clients, "--timeout", "30",
            ] + (events ? ["--events"] : []))
        try #require(run.status == 0, "fairload.py failed: \(run.output)")
        let line = try #require(run.output.split(separator: "\n").last)
        return Report(json: try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]))
    }

    static func stats(_ stack: TestStack) throws -> [String: Any] {
        usleep(150_000)
        return try stack.client().request("GET", "/api/stats").json
    }

    /// nginx's times for the expensive requests from `remote`, with the worker's reason for a refusal.
    static func expensive(_ stack: TestStack, from remote: String? = nil) -> [(
        status: Int, seconds: Double, refusal: String
    )] {
        stack.accessLog.filter {
            let uri = $0["uri"] as? String ?? ""
            return (uri.hasPrefix("/api/load") || uri.hasPrefix("/api/hash"))
                && (remote == nil || $0["remote"] as? String == remote)
        }.map {
            ($0["status"] as? Int ?? 0, $0["request_time"] as? Double ?? .infinity, $0["refusal"] as? String ?? "")
        }
    }

    /// A cost at which `multiple` × capacity is at most `offered` arrivals a second (what the load
    /// generator offers beside the stack with the cores left mostly to bcrypt), and an N of ten
    /// hashes per slot (at least half a second, so that nginx's millisecond clock and a busy
    /// machine's wake-ups are small beside it).
    static func setting(multiple: Double, slots: Int = 2, lowestCost: Int = 6, offered: Double = 300) throws -> (
        cost: Int, capacity: Double, deadline: Double
    ) {
        let (cost, single) = try MachineCalibration.cost(
            takingAtLeast: multiple * Double(slots) / offered, from: lowestCost, upTo: 14)
        return (cost, Double(slots) / single, max(0.5, 10 * single))
    }

    /// A stack of two workers with 256 request threads each, as in production scaled down: a
    /// worker holds at most a quarter of them as paced refusals, so that a closed-loop storm of
    /// 64 connections is paced rather than answered at once.
    static func stack(cost: Int, deadline: Double, slots: Int = 2, _ more: [String] = []) throws -> TestStack {
        try TestStack(
            workers: 2, cost: cost,
            arguments: [
                "--max-cost", "\(cost + 2)", "--deadline", "\(deadline)", "--compute-slots", "\(slots)", "--threads",
                "256",
            ] + more)
    }

    @Test(
        "a flood at 20× capacity: light clients in another /24 and in the flooder's own get ≥ 0.95 within N; fairness off, they do not"
    )
    func lightClientsBesideAFlood() throws {
        // The light client asks 0.15 of the capacity measured by one hash alone, the neighbour
        // (which shares the flooder's /24, whose share its two addresses split) 0.06: under half
        // their shares even when, beside a CPU hog and the load generator, the slots do only half
        // of what that measure says.
        let setting = try Self.setting(multiple: 20)
        let clients = """
            [{"name": "flooder", "rate": \(20 * setting.capacity), "sources": ["127.0.0.2"]},
             {"name": "light", "rate": \(0.15 * setting.capacity), "sources": ["127.0.1.2"]},
             {"name": "neighbour", "rate": \(0.06 * setting.capacity), "sources": ["127.0.0.3"]}]
            """
        var lightFractions: [String: [Double]] = [:]
        for fairness in ["on", "off"] {
            let stack = try Self.stack(cost: setting.cost, deadline: setting.deadline, ["--fairness", fairness])
            let report = try Self.load(stack, clients: clients, seconds: 15, deadline: setting.deadline)
            let stats = try Self.stats(stack)
            #expect(try stack.stop() == .exited(0))
            let context = "fairness \(fairness), cost \(setting.cost), N \(setting.deadline) s: \(report.json)"
            for name in ["light", "neighbour"] {
                lightFractions[name, default: []].append(report.client(name).okFraction)
            }
            #expect(report.pingFailed == 0, "\(context)")
            let slowest = Self.expensive(stack).map(\.seconds).max() ?? .infinity
            #expect(
                slowest <= setting.deadline + 0.05, "an answer left \(slowest) s after nginx received it; \(context)")
            let counters = try #require(stats["counters"] as? [String: Any])
            if fairness == "on" {
                // Each light client loses at most one request in ten (one, of a few), and together
                // at most one in twenty: the base promise (a hash that overran on a busy machine)
                // costs everyone alike.
                var sent = 0
                var ok = 0.0
                for name in ["light", "neighbour"] {
                    let client = report.client(name)
                    #expect(client.sent >= 1, "\(context)")
                    let lost = Double(client.sent) * (1 - client.okFraction)
                    #expect(lost <= max(1, 0.1 * Double(client.sent)) + 1e-9, "\(name): \(client.json); \(context)")
                    sent += client.sent
                    ok += client.okFraction * Double(client.sent)
                }
                #expect(ok >= 0.95 * Double(sent), "\(context)")
                // The flooder kept most of the rest, and was refused for being over its share.
                let flooder = report.client("flooder")
                #expect(flooder.goodput >= 0.15 * setting.capacity, "\(context)")
                // (While the light clients have nothing queued, the flooder is alone: at_capacity.)
                #expect((flooder.reasons["over_share"] ?? 0) > 0 && (counters["displaced"] as? Int ?? 0) > 0)
            } else {
                #expect(counters["refused_over_share"] as? Int == 0 && counters["displaced"] as? Int == 0)
                #expect(Set(report.client("flooder").reasons.keys).isDisjoint(with: ["over_share", "displaced"]))
            }
        }
        // Without the fair share the same light clients lose most of their requests to the flood.
        for (name, fractions) in lightFractions {
            #expect(fractions[1] < 0.5, "\(name) with fairness off: \(fractions[1])")
        }
    }

    @Test(
        "over IPv6 a client is its /48: rotating through 2,000 /64s of one /48 buys nothing against a light client in another"
    )
    func ipv6RotationBuysNothing() throws {
        // Two documentation /48s routed to loopback for the test; fairload.py binds free to them.
        let route = ["-6", "route", "add", "local", "2001:db8:e::/47", "dev", "lo"]
        try #require(try Command.run("/usr/sbin/ip", route).status == 0, "cannot route 2001:db8:e::/47 to loopback")
        defer { _ = try? Command.run("/usr/sbin/ip", ["-6", "route", "del", "local", "2001:db8:e::/47", "dev", "lo"]) }
        let setting = try Self.setting(multiple: 20)
        let stack = try Self.stack(cost: setting.cost, deadline: setting.deadline, ["--ipv6-loopback"])
        let sources = (0..<2000).map { "\"2001:db8:f:\(String($0, radix: 16))::1\"" }.joined(separator: ",")
        let clients = """
            [{"name": "attacker", "rate": \(20 * setting.capacity), "sources": [\(sources)]},
             {"name": "light", "rate": \(0.15 * setting.capacity), "sources": ["2001:db8:e::1"]}]
            """
        let report = try Self.load(stack, clients: clients, seconds: 10, deadline: setting.deadline)
        let stats = try Self.stats(stack)
        #expect(try stack.stop() == .exited(0))
        let light = report.client("light")
        let lost = Double(light.sent) * (1 - light.okFraction)
        #expect(light.sent >= 5 && lost <= max(1, 0.1 * Double(light.sent)) + 1e-9, "\(light.json)")
        #expect(report.client("attacker").reasons["over_share"] ?? 0 > 0, "\(report.client("attacker").json)")
        // The attacker's /64s are leaves of one /48 (at most 64 of them kept); nginx saw IPv6 peers.
        let top = ((stats["fair_share"] as? [String: Any])?["top"] as? [[String: Any]] ?? []).compactMap {
            $0["client"] as? String
        }
        #expect(top.contains { $0.hasPrefix("ipv6/64:") }, "\(top)")
        #expect(Self.expensive(stack, from: "2001:db8:e::1").count == light.sent)
    }

    @Test(
        "a displaced job is answered at once, with its reason, when a client under its share takes its place; never after N"
    )
    func displacedAnsweredAtOnce() throws {
        // One slot and an N of ten hashes: the flooder keeps the queue full; each light request
        // takes the place of the flooder's newest waiting job.
        let setting = try Self.setting(multiple: 3, slots: 1, lowestCost: 8)
        let stack = try Self.stack(cost: setting.cost, deadline: setting.deadline, slots: 1)
        let times = (0..<8).map { 1.0 + Double($0) * max(0.25, setting.deadline / 2) }
        let seconds = (times.last ?? 3) + 1
        let clients = """
            [{"name": "flooder", "rate": \(3 * setting.capacity), "sources": ["127.0.0.2"]},
             {"name": "light", "times": [\(times.map { "\($0)" }.joined(separator: ","))], "sources": ["127.0.1.2"]}]
            """
        let report = try Self.load(stack, clients: clients, seconds: seconds, deadline: setting.deadline, events: true)
        #expect(try stack.stop() == .exited(0))
        let light = report.client("light")
        #expect(light.statuses["200"] ?? 0 >= times.count - 1, "\(light.json)")
        let displaced = report.client("flooder").events.filter { $0.reason == "displaced" }
        try #require(!displaced.isEmpty, "\(report.json)")
        let lightSent = light.events.map(\.sent)
        for job in displaced {
            #expect(job.status == 503)
            #expect(job.finished - job.sent <= setting.deadline, "\(job)")
            // Answered as the light request that displaced it arrived, not at its own deadline.
            let cause = try #require(lightSent.filter { $0 <= job.finished }.max(), "\(job)")
            #expect(job.finished - cause <= 0.1, "displaced at \(cause) s, answered at \(job.finished) s")
        }
        let slowest = Self.expensive(stack).map(\.seconds).max() ?? .infinity
        #expect(slowest <= setting.deadline + 0.05)
    }

    @Test(
        "a storm from one client has its refusals paced; another client's refusals at arrival leave in ≤ 10 ms at nginx"
    )
    func refusalsPacedOnlyForTheStormer() throws {
        let setting = try Self.setting(multiple: 5)
        let stack = try Self.stack(cost: setting.cost, deadline: setting.deadline)
        let clients = """
            [{"name": "storm", "concurrency": 64, "sources": ["127.0.0.2"]},
             {"name": "light", "rate": \(0.15 * setting.capacity), "sources": ["127.0.1.2"]}]
            """
        let report = try Self.load(stack, clients: clients, seconds: 8, deadline: setting.deadline)
        let stats = try Self.stats(stack)
        #expect(try stack.stop() == .exited(0))
        #expect((stats["counters"] as? [String: Any])?["paced_refusals"] as? Int ?? 0 > 0, "\(stats)")
        // Beside the storm the light client keeps nine in ten, on a busy machine too (what it
        // loses is the base promise's: a hash that ran long, a thread the storm's held refusals took).
        #expect(report.client("light").okFraction >= 0.9, "\(report.json)")
        // Refusals at arrival; one at its deadline (a hash that ran long on a busy machine) leaves at N.
        let lightRefusals = Self.expensive(stack, from: "127.0.1.2").filter {
            $0.status == 503 && ["at_capacity", "over_share"].contains($0.refusal)
        }.map(\.seconds).sorted()
        if let p99 = lightRefusals.isEmpty
            ? nil : lightRefusals[min(lightRefusals.count - 1, lightRefusals.count * 99 / 100)]
        {
            #expect(p99 <= 0.010, "the light client's 503s: \(lightRefusals)")
        }
        let stormRefusals = Self.expensive(stack, from: "127.0.0.2").filter { $0.refusal == "over_share" }.map(
            \.seconds)
        #expect(stormRefusals.contains { $0 > 0.05 }, "the storm's refusals were paced")
        #expect(stormRefusals.allSatisfy { $0 <= 0.9 * setting.deadline + 0.05 })
    }

    @Test("Fullyloaded-Client names end users only from a trusted proxy; from anyone else it changes nothing")
    func trustedHeaderOnly() throws {
        let stack = try Self.stack(cost: 6, deadline: 2, ["--trusted-proxy", "127.0.0.5/32"])
        let clients = """
            [{"name": "proxy", "rate": 40, "cost": 6, "sources": ["127.0.0.5"], "header": "user-{n}"},
             {"name": "stranger", "rate": 40, "cost": 6, "sources": ["127.0.0.6"], "header": "user-{n}"}]
            """
        let report = try Self.load(stack, clients: clients, seconds: 1, deadline: 2, events: true)
        let stats = try Self.stats(stack)
        #expect(try stack.stop() == .exited(0))
        let proxy = report.client("proxy")
        let stranger = report.client("stranger")
        #expect(proxy.statuses["200"] == proxy.sent && stranger.statuses["200"] == stranger.sent, "\(report.json)")
        let fairShare = try #require(stats["fair_share"] as? [String: Any])
        let top = (fairShare["top"] as? [[String: Any]] ?? []).compactMap { $0["client"] as? String }
        // The stranger is one client, its address, whatever names it sent; the proxy's users are
        // each their own (the top list holds five).
        #expect(top.filter { $0.hasPrefix("ipv4:") }.count == 1, "\(top)")
        #expect(top.filter { $0.hasPrefix("named:") }.count == min(4, proxy.sent), "\(top)")
        #expect(fairShare["tracked_keys"] as? Int ?? 0 >= proxy.sent + 2, "\(fairShare)")
    }

    @Test(
        "thousands of names from a trusted proxy fill the key table: it stays its size, an active key keeps its entry, newcomers share the overflow, workers serve on"
    )
    func keyTableOverflow() throws {
        // N = 2 s: idle keys age out after 2 N, so 900 new names a second outgrow the table's 2,047.
        let setting = try Self.setting(multiple: 5)
        let deadline = max(2, setting.deadline)
        let stack = try Self.stack(cost: setting.cost, deadline: deadline, ["--trusted-proxy", "127.0.0.5"])
        let workers = Set(stack.workerProcessIDs)
        let light = """
            {"name": "light", "rate": \(0.25 * setting.capacity), "sources": ["127.0.1.2"]}
            """
        _ = try Self.load(stack, clients: "[\(light)]", seconds: 2, deadline: deadline)
        let before = try Self.stats(stack)
        let resident = try #require(((before["fair_share"] as? [String: Any])?["top"] as? [[String: Any]])?.first)
        let label = try #require(resident["client"] as? String)
        let report = try Self.load(
            stack,
            clients: """
                [\(light), {"name": "names", "rate": 900, "sources": ["127.0.0.5"], "header": "user-{n}"}]
                """, seconds: 6, deadline: deadline)
        let after = try Self.stats(stack)
        #expect(Set(stack.workerProcessIDs) == workers, "no worker died")
        #expect(try stack.stop() == .exited(0))
        let counters = try #require(after["counters"] as? [String: Any])
        let fairShare = try #require(after["fair_share"] as? [String: Any])
        let context = "\(counters), \(fairShare), names: \(report.client("names").json)"
        #expect(counters["key_overflows"] as? Int ?? 0 > 0, "\(context)")
        let tracked = fairShare["tracked_keys"] as? Int ?? 0
        #expect(tracked <= 2047 && tracked >= 1000, "\(context)")
        #expect(report.pingFailed == 0)
        // The light client, active all along, kept its entry and its counts: newcomers never took it.
        let top = fairShare["top"] as? [[String: Any]] ?? []
        let kept = try #require(top.first { $0["client"] as? String == label }, "\(label) not in \(top)")
        #expect(kept["admitted"] as? Int ?? 0 > resident["admitted"] as? Int ?? .max, "\(kept) after \(resident)")
        // The names that found no room were admitted as one client, the overflow entry.
        let overflow = try #require(fairShare["overflow"] as? [String: Any], "\(fairShare)")
        #expect((overflow["client"] as? String)?.hasPrefix("overflow:") == true, "\(overflow)")
        #expect(overflow["admitted"] as? Int ?? 0 > 0, "\(overflow)")
    }
}
