import Foundation
import StackTestSupport
import Testing

@testable import Admission

// Max-min fairness over time, on the made-up clock.
extension FairShareTests {
    /// A run on the made-up clock: clients offer jobs at random (Poisson, from a fixed seed) at
    /// their mean intervals until N before the end,
    /// jobs run for their service time, waiters are stepped; returns each client's compute
    /// seconds, answers and jobs turned away (refused, or displaced).
    static func simulate(
        _ queue: inout Queue, clients: [(key: ClientKey.Hashed, interval: Double, cost: Int)], seconds: Double,
        service: (Int) -> Double
    ) -> [(served: Double, offered: Int, admitted: Int, answered: Int, turnedAway: Int)] {
        var results = [(served: Double, offered: Int, admitted: Int, answered: Int, turnedAway: Int)](
            repeating: (0, 0, 0, 0, 0), count: clients.count)
        var random = SplitMix(state: 7)
        func gap(_ interval: Double) -> Double {
            -interval * log(Double(random.next(upperBound: 1 << 52 as UInt64) + 1) / Double(1 << 52 as UInt64))
        }
        var nextArrival = clients.map { 100 + gap($0.interval) }
        var waiting: [(AdmissionController.Ticket, Int)] = []
        var running: [(AdmissionController.Ticket, Int, ends: Double)] = []
        let step = 1.0 / 256
        var now = 100.0
        while now < 100 + seconds {
            now += step
            for (ticket, client, ends) in running where ends <= now {
                var woken = WakeList()
                queue.finish(
                    ticket, serviceSeconds: service(ticket.cost), outcome: .delivered, pid: 7, now: now, woken: &woken)
                results[client].served += service(ticket.cost)
                results[client].answered += 1
            }
            running.removeAll { $0.ends <= now }
            // Arrivals stop N before the end, so that every job is answered by then.
            let arriving = now < 100 + seconds - queue.policy.deadline
            for index in clients.indices {
                while arriving, nextArrival[index] <= now {
                    nextArrival[index] += gap(clients[index].interval)
                    results[index].offered += 1
                    var woken = WakeList()
                    let admission = queue.admit(
                        cost: clients[index].cost, arrivedAt: now, pid: 7, mayHold: false, client: clients[index].key,
                        now: now, woken: &woken)
                    if case .admitted(let ticket) = admission {
                        results[index].admitted += 1
                        waiting.append((ticket, index))
                    } else {
                        results[index].turnedAway += 1
                    }
                }
            }
            waiting.removeAll { ticket, client in
                switch queue.step(ticket, pid: 7, now: now) {
                case .granted:
                    running.append((ticket, client, now + service(ticket.cost)))
                    return true
                case .wait: return false
                case .refused, .displaced:
                    results[client].turnedAway += 1
                    return true
                }
            }
        }
        return results
    }

    @Test(
        "max-min over time: a light client gets all it asks beside a flooder, and three flooders split the rest equally"
    )
    func maxMinOverTime() throws {
        // One slot, 1/16 s a job: 16 jobs a second. Three flooders at 10× each, a light client at 1/s.
        var queue = Self.makeQueue(slots: 1, deadline: 1, service: 0.0625)
        let clients = [
            (Self.client("198.51.100.1"), 1.0 / 160, 4), (Self.client("198.51.101.1"), 1.0 / 160, 4),
            (Self.client("198.51.102.1"), 1.0 / 160, 4), (Self.client("203.0.113.9"), 1.0, 4),
        ].map { (key: $0.0, interval: $0.1, cost: $0.2) }
        let results = Self.simulate(&queue, clients: clients, seconds: 60, service: { _ in 0.0625 })
        let light = results[3]
        #expect(light.turnedAway == 0 && light.answered == light.offered, "light client: \(light)")
        let flooders = results[0..<3].map(\.served)
        let mean = flooders.reduce(0, +) / 3
        #expect(flooders.allSatisfy { abs($0 - mean) <= 0.15 * mean }, "flooders' compute seconds: \(flooders)")
        // The slot was busy: the rest went to the flooders.
        let served = results.map(\.served).reduce(0, +)
        #expect(served >= 0.97 * 59, "\(results)")
        Self.checkCounts(queue)
    }

    @Test("a flood at 20×: a light client in another /24 and one in the flooder's own both get all they ask")
    func lightClientsInAndOutOfTheFloodersGroup() throws {
        // Two slots, 1/16 s a job: 32 jobs a second. The flooder at 20×; a light client in another
        // /24 at 0.25× (half its group's share); a neighbour in the flooder's /24 at 0.1× (the /24's
        // share is split between its two addresses: it is entitled to a quarter).
        var queue = Self.makeQueue(slots: 2, deadline: 1, service: 0.0625)
        let clients = [
            (key: Self.client("198.51.100.1"), interval: 1.0 / 640, cost: 4),
            (key: Self.client("203.0.113.9"), interval: 1.0 / 8, cost: 4),
            (key: Self.client("198.51.100.3"), interval: 1.0 / 3.2, cost: 4),
        ]
        let results = Self.simulate(&queue, clients: clients, seconds: 30, service: { _ in 0.0625 })
        for light in results[1...] {
            #expect(light.turnedAway == 0 && light.answered == light.offered, "\(results)")
        }
        let served = results.map(\.served).reduce(0, +)
        #expect(served >= 0.97 * 58, "\(results)")
        Self.checkCounts(queue)
    }

    @Test(
        "three flooders at 10× and twenty light clients in /24s of their own: no light job is refused or displaced, not even after a burst"
    )
    func lightClientsBesideThreeFlooders() throws {
        // One slot, 1/16 s a job: 16 jobs a second. Each light client asks 0.02× (0.32 jobs a
        // second), Poisson, so some of them send several within a few N: a light client with a
        // waiting job is still under its share, and another light client may not take its place.
        var queue = Self.makeQueue(slots: 1, deadline: 1, service: 0.0625)
        let flooders = (0..<3).map { (key: Self.client("198.51.\(100 + $0).1"), interval: 1.0 / 160, cost: 4) }
        let light = (0..<20).map { (key: Self.client("203.0.\($0).9"), interval: 1.0 / 0.32, cost: 4) }
        let results = Self.simulate(&queue, clients: flooders + light, seconds: 120, service: { _ in 0.0625 })
        let lightResults = results[3...]
        #expect(lightResults.map(\.offered).reduce(0, +) > 600)
        for (index, result) in lightResults.enumerated() {
            #expect(result.turnedAway == 0 && result.answered == result.offered, "light client \(index): \(result)")
        }
        let served = results[0..<3].map(\.served)
        let mean = served.reduce(0, +) / 3
        #expect(served.allSatisfy { abs($0 - mean) <= 0.15 * mean }, "flooders' compute seconds: \(served)")
        Self.checkCounts(queue)
    }

    @Test("max-min by work: a cost-6 flooder and a cost-4 flooder get the same compute seconds")
    func maxMinByWork() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 2, service: 0.0625)
        let service = { (cost: Int) in 0.0625 * Double(1 << (cost - 4)) }
        let clients = [
            (key: Self.client("198.51.100.1"), interval: 1.0 / 40, cost: 6),
            (key: Self.client("203.0.113.9"), interval: 1.0 / 320, cost: 4),
        ]
        let results = Self.simulate(&queue, clients: clients, seconds: 60, service: service)
        let served = results.map(\.served)
        let mean = served.reduce(0, +) / 2
        #expect(served.allSatisfy { abs($0 - mean) <= 0.15 * mean }, "compute seconds: \(served)")
        Self.checkCounts(queue)
    }
}
