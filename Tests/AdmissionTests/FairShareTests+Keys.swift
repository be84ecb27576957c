import Foundation
import Testing

@testable import Admission

// Who counts as one client, and a queue with room for everyone.
extension FairShareTests {
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
}
