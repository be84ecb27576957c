import Foundation
import StackTestSupport
import Testing

@testable import Admission

/// The fair share's decisions on plain arrays and a made-up clock: who counts as one client,
/// when a job takes the place of another's, what is refused and why, and what the table does
/// with hostile keys. Times are binary fractions, so that every sum below is exact.
@Suite("SlotQueue: the fair share on arrays")
struct FairShareTests {
    typealias Queue = SlotQueue<ArrayQueueStorage>

    static func makeQueue(
        slots: Int = 1, deadline: Double = 1, service: Double = 0.125, refusalRate: Double = 0,
        jobCapacity: Int = 256, clientCapacity: Int = 256, fairness: Bool = true
    ) -> Queue {
        SlotQueue(
            storage: ArrayQueueStorage(
                slots: slots, jobCapacity: jobCapacity, serviceSeconds: service, clientCapacity: clientCapacity),
            policy: AdmissionPolicy(deadline: deadline, headroom: 0.9, refusalRate: refusalRate, fairness: fairness))
    }

    /// A client at an IPv4 address.
    static func client(_ address: String) -> ClientKey.Hashed {
        ClientKey(remoteAddress: address).hashed(seed: 42)
    }

    /// A client named by a trusted proxy.
    static func named(_ name: String) -> ClientKey.Hashed {
        ClientKey(remoteAddress: "192.0.2.1", namedClient: name).hashed(seed: 42)
    }

    struct Offer {
        var admission: AdmissionController.Admission
        var woken: [UInt64]
        var ticket: AdmissionController.Ticket? {
            if case .admitted(let ticket) = admission { ticket } else { nil }
        }
        var reason: AdmissionController.RefusalReason? {
            if case .refused(_, _, _, let reason) = admission { reason } else { nil }
        }
        var answerAt: Double? {
            if case .refused(_, _, let answerAt, _) = admission { answerAt } else { nil }
        }
    }

    static func offer(
        _ queue: inout Queue, _ client: ClientKey.Hashed, cost: Int = 4, arrivedAt: Double? = nil, now: Double
    ) -> Offer {
        var woken = WakeList()
        let admission = queue.admit(
            cost: cost, arrivedAt: arrivedAt ?? now, pid: 7, mayHold: true, client: client, now: now, woken: &woken)
        return Offer(admission: admission, woken: SlotQueueTests.tickets(woken))
    }

    /// The entry index of a client's leaf (or its group's when it has none).
    static func entry(_ queue: inout Queue, _ client: ClientKey.Hashed, now: Double) -> ClientEntry {
        queue.storage[client: queue.clientEntry(for: client, now: now)]
    }

    /// Every count the table keeps, recomputed from the ring: what the incremental counts must equal.
    static func checkCounts(_ queue: Queue, sourceLocation: SourceLocation = #_sourceLocation) {
        let storage = queue.storage
        var work = [Int: UInt64]()
        var queued = [Int: Int]()
        var running = [Int: Int]()
        for job in storage.jobs where job.state != .free {
            guard let client = job.client else { continue }
            work[client, default: 0] += Queue.units(ofCost: job.cost)
            if job.state == .queued { queued[client, default: 0] += 1 } else { running[client, default: 0] += 1 }
        }
        var groupWork = [Int: UInt64]()
        var activeLeaves = [Int: Int]()
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 {
            #expect(entry.work == work[index, default: 0], "work of \(index)", sourceLocation: sourceLocation)
            #expect(entry.queued == queued[index, default: 0], "queued of \(index)", sourceLocation: sourceLocation)
            #expect(entry.running == running[index, default: 0], "running of \(index)", sourceLocation: sourceLocation)
            groupWork[entry.parent, default: 0] += entry.work
            if entry.work > 0 { activeLeaves[entry.parent, default: 0] += 1 }
            // Its waiting jobs, oldest first, through the ring.
            var tickets: [UInt64] = []
            var ticket = entry.head
            while ticket != 0, tickets.count <= storage.jobCapacity {
                tickets.append(ticket)
                ticket = storage[job: ticket].clientNext
            }
            let expected = storage.jobs.filter { $0.state == .queued && $0.client == index }.map(\.ticket).sorted()
            #expect(tickets == expected, "waiting jobs of \(index)", sourceLocation: sourceLocation)
            #expect(entry.tail == (expected.last ?? 0), sourceLocation: sourceLocation)
        }
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 && entry.parent == index {
            #expect(
                entry.groupWork == groupWork[index, default: 0], "group work of \(index)",
                sourceLocation: sourceLocation)
            #expect(entry.activeLeaves == activeLeaves[index, default: 0], sourceLocation: sourceLocation)
        }
        #expect(storage.totalWork == work.values.reduce(0, +), sourceLocation: sourceLocation)
        // The waiting counts the predictions read: by cost, and by process and cost.
        var byProcess = [[Int]](
            repeating: [Int](repeating: 0, count: ArrayQueueStorage.costClasses),
            count: ArrayQueueStorage.processBuckets)
        for job in storage.jobs where job.state == .queued {
            byProcess[ArrayQueueStorage.processBucket(pid: job.pid)][job.cost % ArrayQueueStorage.costClasses] += 1
        }
        #expect(storage.queuedByProcess == byProcess, "per-process waiting counts", sourceLocation: sourceLocation)
        #expect(
            storage.queuedCount == storage.jobs.filter { $0.state == .queued }.count, sourceLocation: sourceLocation)
        // Recent work: a group's is its leaves' together, and the active total the active groups'.
        let at = storage.clients.map(\.recentAt).max() ?? 0
        var leafRecent = [Int: Double]()
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 {
            leafRecent[entry.parent, default: 0] += queue.recentWork(ofClient: index, now: at)
        }
        var activeRecent = 0.0
        for (index, entry) in storage.clients.enumerated() where entry.key != 0 && entry.parent == index {
            let recent = queue.recentWork(ofGroup: index, now: at)
            #expect(
                abs(recent - leafRecent[index, default: 0]) <= 1e-6 * max(1, recent), sourceLocation: sourceLocation)
            if entry.groupWork > 0 { activeRecent += recent }
        }
        let total = queue.activeRecentWork(now: at)
        #expect(abs(total - activeRecent) <= 1e-6 * max(1, total), "active recent work", sourceLocation: sourceLocation)
        #expect(storage.activeGroups == groupWork.values.filter { $0 > 0 }.count, sourceLocation: sourceLocation)
        var listed = Set<Int>()
        var index = storage.waitingClients
        while index >= 0, listed.count <= storage.clientCapacity {
            listed.insert(index)
            index = storage[client: index].waitingNext
        }
        #expect(listed == Set(queued.filter { $0.value > 0 }.keys), "waiting list", sourceLocation: sourceLocation)
    }

    // MARK: - Keys

    @Test("IPv4 clients are their /24, then their address; IPv6 their /48, then their /64; a name overrides both")
    func hierarchicalKeys() {
        let a = ClientKey(remoteAddress: "203.0.113.7")
        let b = ClientKey(remoteAddress: "203.0.113.200")
        let c = ClientKey(remoteAddress: "203.0.114.7")
        #expect(a.groupKind == .ipv4Network && a.group == [203, 0, 113] && a.leaf == [203, 0, 113, 7])
        #expect(a.group == b.group && a.leaf != b.leaf && a.group != c.group)
        #expect(ClientKey(remoteAddress: "::ffff:203.0.113.7") == a)
        let v6 = ClientKey(remoteAddress: "2001:db8:1:2:3:4:5:6")
        #expect(v6.groupKind == .ipv6Network && v6.group == [0x20, 0x01, 0x0d, 0xb8, 0, 1])
        #expect(v6.leafKind == .ipv6Subnet && v6.leaf == [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2])
        #expect(ClientKey(remoteAddress: "2001:db8:1:2:ffff::1").leaf == v6.leaf)
        #expect(ClientKey(remoteAddress: "2001:db8:1:3::1").group == v6.group)
        let named = ClientKey(remoteAddress: "203.0.113.7", namedClient: "user-17")
        #expect(named.groupKind == .named && named.group == Array("user-17".utf8) && named.leaf == nil)
        #expect(ClientKey(remoteAddress: "203.0.113.7", namedClient: "") == a)
        #expect(ClientKey(remoteAddress: nil).groupKind == .unknown)
        #expect(ClientKey(remoteAddress: "not an address").groupKind == .unknown)
        let long = ClientKey(remoteAddress: nil, namedClient: String(repeating: "x", count: 10_000))
        #expect(long.group.count == ClientKey.maximumNameBytes)
    }

    @Test("hashes depend on the seed and the kind, and never collide with an unused entry or the overflow group")
    func keyHashes() {
        let a = ClientKey(remoteAddress: "203.0.113.7")
        #expect(a.hashed(seed: 1).group != a.hashed(seed: 2).group)
        #expect(ClientKey.hash(.ipv4Network, [1, 2, 3], seed: 9) != ClientKey.hash(.named, [1, 2, 3], seed: 9))
        for seed in 0..<2000 as Range<UInt64> {
            let hash = ClientKey.hash(.named, [UInt8(truncatingIfNeeded: seed)], seed: seed)
            #expect(hash >= 2)
        }
        #expect(ClientKey.label(kind: .ipv4Address, key: 0x0000_00ab_0000_0001) == "ipv4:000000ab")
    }

    // MARK: - Uncontended

    @Test("while every job fits, fairness changes nothing: all are admitted, and the counts follow the ring")
    func uncontendedAdmitsAll() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 4)
        var tickets: [AdmissionController.Ticket] = []
        for index in 0..<12 {
            let offer = Self.offer(&queue, Self.client("198.51.100.\(index % 3)"), now: 100)
            tickets.append(try #require(offer.ticket))
        }
        Self.checkCounts(queue)
        #expect(queue.storage.activeGroups == 1)
        #expect(queue.storage[client: queue.storage[job: tickets[0].ticket].client!].admitted == 4)
        // Ending and leaving takes it all away again.
        var now = 100.0
        for ticket in tickets {
            now += 0.125
            var woken = WakeList()
            if queue.step(ticket, pid: 7, now: now) == .granted {
                queue.finish(ticket, serviceSeconds: 0.125, outcome: .delivered, pid: 7, now: now, woken: &woken)
            }
            Self.checkCounts(queue)
        }
        #expect(queue.storage.totalWork == 0 && queue.storage.activeGroups == 0 && queue.storage.waitingClients == -1)
        #expect(!queue.storage.events.contains { if case .displaced = $0 { true } else { false } })
    }

    @Test("with fairness off no job has a client, and a full queue refuses in arrival order as before")
    func fairnessOff() throws {
        var queue = Self.makeQueue(fairness: false)
        for _ in 0..<7 { _ = try #require(Self.offer(&queue, Self.client("198.51.100.1"), now: 100).ticket) }
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        #expect(light.reason == .atCapacity && light.woken.isEmpty)
        #expect(queue.storage.jobs.allSatisfy { $0.client == nil })
        #expect(queue.storage.clients.dropFirst().allSatisfy { $0.key == 0 })
    }

    // MARK: - Displacement

    @Test(
        "a client under its share takes the newest waiting place of the client most over its; that job is told at once")
    func lightDisplacesFlooder() throws {
        // One slot, 0.125 s a job, N = 1 at headroom 0.9: seven jobs fit.
        var queue = Self.makeQueue()
        let flooder = Self.client("198.51.100.1")
        var tickets: [AdmissionController.Ticket] = []
        for _ in 0..<7 { tickets.append(try #require(Self.offer(&queue, flooder, now: 100).ticket)) }
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        let admitted = try #require(light.ticket)
        // The flooder's newest waiting job (ticket 7) gave its place, and then ticket 6 for a
        // service time to spare (at most 0.1 N): the newcomer is answered by 0.75 s, not 0.875 s.
        // Nothing running moved.
        #expect(light.woken == [tickets[6].ticket, tickets[5].ticket])
        #expect(admitted.prediction.completesIn == 0.75)
        #expect(queue.step(tickets[6], pid: 7, now: 100) == .displaced(retryAfterSeconds: 1))
        #expect(queue.step(tickets[5], pid: 7, now: 100) == .displaced(retryAfterSeconds: 1))
        #expect(queue.storage.runningTickets == [tickets[0].ticket])
        #expect(queue.storage.waitingTickets == tickets[1..<5].map(\.ticket) + [admitted.ticket])
        #expect(queue.storage.events.contains(.displaced(pid: 7)))
        Self.checkCounts(queue)
        // The flooder takes the room left behind the newcomer (the newcomer, ahead of it, keeps its
        // 0.75 s); then, over its share, it is refused and says why.
        #expect(Self.offer(&queue, flooder, now: 100).ticket != nil)
        let again = Self.offer(&queue, flooder, now: 100)
        #expect(again.reason == .overShare && again.woken.isEmpty)
        #expect(queue.storage.events.last == .refusedAtOnce(pid: 7, late: false, paced: false, overShare: true))
        let entry = Self.entry(&queue, flooder, now: 100)
        #expect(entry.displaced == 2 && entry.refusedOverShare == 1 && entry.admitted == 8)
        Self.checkCounts(queue)
    }

    @Test(
        "max-min whatever the equal part: beside sixteen clients that ask one job each, a burst of five still takes from the flood"
    )
    func burstBesideManyLightClients() throws {
        // N = 8: 57 jobs of 0.125 s fit. The flood fills the queue, sixteen light clients take a
        // place each, then one more client sends five: more than an equal part of the eighteen
        // clients' recent work (about 3.4 jobs), far less than the flood's.
        var queue = Self.makeQueue(deadline: 8)
        let flooder = Self.client("198.51.100.1")
        while Self.offer(&queue, flooder, now: 100).ticket != nil {}
        for index in 0..<16 {
            #expect(Self.offer(&queue, Self.client("203.0.\(index).9"), now: 100).ticket != nil)
        }
        // The flood takes whatever room the light clients' displacements left, until it has no
        // one to take from: with far more than an equal part, it is over its share.
        var refused = Self.offer(&queue, flooder, now: 100)
        while refused.ticket != nil { refused = Self.offer(&queue, flooder, now: 100) }
        #expect(refused.reason == .overShare)
        let displacedBefore = Self.entry(&queue, flooder, now: 100).displaced
        let burst = Self.client("192.0.2.7")
        for job in 0..<5 {
            #expect(Self.offer(&queue, burst, now: 100).ticket != nil, "job \(job) of the burst")
        }
        Self.checkCounts(queue)
        #expect(Self.entry(&queue, burst, now: 100).admitted == 5)
        // Each of its jobs took a waiting place of the flood's, or the service time to spare that the one before made.
        #expect(Self.entry(&queue, flooder, now: 100).displaced >= displacedBefore + 3)
    }

    @Test(
        "nothing running is interrupted: when only running work stands in the way, the newcomer is refused at capacity")
    func runningIsNeverDisplaced() throws {
        var queue = Self.makeQueue(slots: 2, service: 0.5)
        let flooder = Self.client("198.51.100.1")
        _ = try #require(Self.offer(&queue, flooder, now: 100).ticket)
        _ = try #require(Self.offer(&queue, flooder, now: 100).ticket)
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        #expect(light.reason == .atCapacity && light.woken.isEmpty)
        #expect(queue.storage.runningTickets == [1, 2])
        Self.checkCounts(queue)
    }

    @Test("work is 2^cost: a cost-6 job displaces as many waiting jobs as it needs to fit, newest first, and no more")
    func costWeighted() throws {
        // Two slots, 1/16 s at cost 4 (1/4 s at cost 6), N = 1: 28 cost-4 jobs fit.
        var queue = Self.makeQueue(slots: 2, service: 0.0625)
        let flooder = Self.client("198.51.100.1")
        var admitted = 0
        while Self.offer(&queue, flooder, now: 100).ticket != nil { admitted += 1 }
        #expect(admitted == 28)
        // Two running, 26 waiting. The newcomer goes to the back: after q waiting jobs it starts at
        // (1 + q / 2) / 16 s. A 1/4 s job fits (0.9 s) after 19; with 0.1 s to spare (0.8 s), after 15.
        let heavy = Self.offer(&queue, Self.client("203.0.113.9"), cost: 6, now: 100)
        let ticket = try #require(heavy.ticket)
        #expect(heavy.woken == Array((18...28).reversed()))
        #expect(ticket.prediction.completesIn <= 0.9)
        for displaced in heavy.woken {
            #expect(
                queue.step(admittedTicket(displaced, cost: 4), pid: 7, now: 100) == .displaced(retryAfterSeconds: 1))
        }
        Self.checkCounts(queue)
    }

    /// A ticket as its waiter holds it (what `step` needs of it).
    func admittedTicket(_ ticket: UInt64, cost: Int) -> AdmissionController.Ticket {
        AdmissionController.Ticket(
            ticket: ticket, cost: cost, arrivedAt: 100, admittedAt: 100,
            prediction: .init(startsIn: 0, completesIn: 0, drainsIn: 0))
    }

    @Test("when not even all that is fair to take would make room, nothing is displaced and every count is as it was")
    func noRoomChangesNothing() throws {
        // N = 1, 1/16 s a job at cost 4: a cost-8 job (1 s) can never fit.
        var queue = Self.makeQueue(slots: 2, service: 0.0625)
        let flooder = Self.client("198.51.100.1")
        while Self.offer(&queue, flooder, now: 100).ticket != nil {}
        let before = queue.storage
        let huge = Self.offer(&queue, Self.client("203.0.113.9"), cost: 8, now: 100)
        #expect(huge.reason == .atCapacity && huge.woken.isEmpty)
        #expect(queue.storage.jobs == before.jobs)
        #expect(queue.storage.waitingTickets == before.waitingTickets)
        #expect(queue.storage.totalWork == before.totalWork && queue.storage.queuedCount == before.queuedCount)
        #expect(queue.storage.queuedByCost == before.queuedByCost)
        Self.checkCounts(queue)
    }

    @Test(
        "within one /24, an address under its share takes the place of the address over its; other groups are untouched"
    )
    func leavesOfOneGroup() throws {
        var queue = Self.makeQueue()
        let flooder = Self.client("198.51.100.1")
        let neighbour = Self.client("198.51.100.2")
        for _ in 0..<7 { _ = try #require(Self.offer(&queue, flooder, now: 100).ticket) }
        let offer = Self.offer(&queue, neighbour, now: 100)
        #expect(offer.ticket != nil && offer.woken == [7, 6])
        Self.checkCounts(queue)
    }

    @Test(
        "rotating through a whole /24 buys nothing: the group is one client, and another group's client still gets in")
    func rotatingAddresses() throws {
        var queue = Self.makeQueue(slots: 2, deadline: 1, service: 0.0625)
        for index in 0..<256 { _ = Self.offer(&queue, Self.client("198.51.100.\(index)"), now: 100) }
        let group = Self.entry(&queue, Self.client("198.51.100.0"), now: 100).parent
        #expect(queue.storage[client: group].children == ClientTableLimits.maximumLeavesPerGroup)
        // 26 waiting: it fits after 25 (0.875 s), and has 1/16 s to spare after 23 (0.8125 s).
        let light = Self.offer(&queue, Self.client("203.0.113.9"), now: 100)
        #expect(light.ticket != nil && light.woken.count == 3)
        Self.checkCounts(queue)
    }

    // MARK: - Max-min over time

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

    // MARK: - Refusal budget per client

    @Test("the refusal budget is each client's own: the one who storms waits for its refusals, nobody else does")
    func refusalBudgetPerClient() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 2, service: 1, refusalRate: 4)
        let flooder = Self.client("198.51.100.1")
        _ = try #require(Self.offer(&queue, flooder, now: 100).ticket)
        var held = 0
        for _ in 0..<20 {
            let offer = Self.offer(&queue, flooder, now: 100)
            let answerAt = try #require(offer.answerAt)
            #expect(answerAt <= 100 + 0.9 * 2)
            if answerAt > 100 { held += 1 }
        }
        #expect(held > 10)
        // Another client (its own group, or a neighbour in the flooder's) is refused at once.
        for other in [Self.client("203.0.113.9"), Self.client("198.51.100.2")] {
            let offer = Self.offer(&queue, other, now: 100)
            #expect(offer.answerAt == 100, "\(offer)")
        }
    }

    // MARK: - The table under hostile keys

    @Test(
        "100,000 distinct keys: the table stays its size, the active keys keep their entries, newcomers share the overflow"
    )
    func hostileKeys() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 1000, service: 1.0 / 1024, jobCapacity: 4096, clientCapacity: 64)
        let resident = Self.named("resident")
        let residentTicket = try #require(Self.offer(&queue, resident, now: 100).ticket)
        let residentIndex = queue.storage[job: residentTicket.ticket].client
        var overflowed = 0
        for index in 0..<100_000 {
            let now = 100 + Double(index) / 1_048_576
            let entryIndex = queue.clientEntry(for: Self.named("key-\(index)"), now: now)
            if entryIndex == 0 { overflowed += 1 }
            // Keep a job of each waiting, so that the table stays full of active keys.
            if entryIndex != 0, queue.storage[client: entryIndex].work == 0, queue.storage.queuedCount < 100 {
                _ = Self.offer(&queue, Self.named("key-\(index)"), now: now)
            }
        }
        #expect(queue.storage.clients.count == 64)
        #expect(overflowed > 90_000)
        #expect(queue.storage.events.filter { $0 == .keyOverflowed }.count == overflowed)
        #expect(queue.storage[job: residentTicket.ticket].client == residentIndex)
        #expect(Self.entry(&queue, resident, now: 101).work == Queue.units(ofCost: 4))
        Self.checkCounts(queue)
    }

    @Test(
        "idle keys age out after max(1 s, 2 N): their entries go to newcomers; a key with work or a pending refusal stays"
    )
    func idleKeysAgeOut() throws {
        var queue = Self.makeQueue(slots: 1, deadline: 1, service: 1.0 / 1024, clientCapacity: 8)
        var first: [Int] = []
        for index in 0..<7 {
            first.append(queue.clientEntry(for: Self.named("old-\(index)"), now: 100))
        }
        #expect(Set(first).count == 7 && !first.contains(0))
        #expect(queue.clientEntry(for: Self.named("new"), now: 101) == 0)
        let reused = queue.clientEntry(for: Self.named("new"), now: 102.5)
        #expect(first.contains(reused))
        #expect(queue.storage[client: reused].key == Self.named("new").group)
    }

    @Test("a group holds at most 64 leaves; its further addresses share the group's own entry")
    func leavesPerGroup() {
        var queue = Self.makeQueue(clientCapacity: 512)
        var indexes = Set<Int>()
        for index in 0..<100 { indexes.insert(queue.clientEntry(for: Self.client("198.51.100.\(index)"), now: 100)) }
        let group = Self.entry(&queue, Self.client("198.51.100.0"), now: 100).parent
        #expect(indexes.count == ClientTableLimits.maximumLeavesPerGroup + 1 && indexes.contains(group))
        #expect(queue.storage[client: group].children == ClientTableLimits.maximumLeavesPerGroup)
    }
}
