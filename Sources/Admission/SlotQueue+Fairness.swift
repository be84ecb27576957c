#if canImport(Glibc)
    import Glibc
#endif

/// Limits of the client table.
enum ClientTableLimits {
    /// Entries a key may live in: its hash's and the ones after it.
    static let probes = 16
    /// Leaves one group may hold; past it, its newcomers share the group's own entry.
    static let maximumLeavesPerGroup = 64
    /// Jobs one arrival may displace (enough for a cost-16 job in place of cost-12 ones).
    static let maximumDisplaced = 16
    /// Served seconds halve every this many seconds (what "recent share" means).
    static let servedHalfLife = 10.0
}

/// The fair share: which client a job belongs to, what each client has waiting and running
/// and was admitted recently, and — when a job would be refused — whether its client is under
/// its share and may take the place of waiting work from the client most over its.
///
/// Max-min fairness in the manner of "longest queue drop", judged by rate: every client's
/// recent admitted work (decaying with a half-life of 2 N) stands for the share of the compute
/// slots' time it is taking. When a job would not fit, a client under an equal part of the
/// active clients' recent work takes the place of the newest waiting job of the one with the
/// most, if that one is over the equal part and, after the swap, still has no less than the
/// newcomer. So clients that ask less than an equal part get all they ask (none of them is ever
/// displaced), and those that ask more split the rest equally. Work is 2^cost per job, so a
/// cost-14 job weighs four cost-12 jobs (an argon2id job weighs its predicted time in those units,
/// fixed when its parameters were first seen). Fairness is first among groups (a /24, a /48, a named
/// user), then among the leaves of a group (an address, a /64). Only waiting jobs are displaced:
/// nothing running is interrupted, and the newcomer still goes to the back of the queue, with a
/// prediction inside N.
extension SlotQueue {
    /// An entry with no work, no waiting job, no leaves and no refusal pending may be reused
    /// after this long: its recent work has halved by then, and a client that comes back later
    /// starts again.
    var clientIdleSeconds: Double { max(1, 2 * policy.deadline) }

    /// Recent work halves every this many seconds: long enough that a light client's burst does
    /// not make it look heavy, short enough that a new flood is seen within a few N.
    var recentHalfLife: Double { max(1, 2 * policy.deadline) }

    /// 2^cost: a job's work in cost-0 units.
    static func units(ofCost cost: Int) -> UInt64 { 1 << UInt64(min(max(cost, 0), 40)) }

    // MARK: - Finding a client's entry

    /// The entry of `key`'s client: its leaf, or its group when the group has no room for
    /// more leaves, or the overflow group when the table has no room for the group.
    mutating func clientEntry(for key: ClientKey.Hashed, now: Double) -> Int {
        guard let group = entry(key: key.group, kind: key.groupKind, parent: nil, now: now) else {
            storage.record(.keyOverflowed)
            return 0
        }
        guard let leaf = key.leaf else { return group }
        guard storage[client: group].children < ClientTableLimits.maximumLeavesPerGroup || hasEntry(key: leaf) else {
            storage.record(.keyOverflowed)
            return group
        }
        guard let index = entry(key: leaf, kind: key.leafKind, parent: group, now: now) else {
            storage.record(.keyOverflowed)
            return group
        }
        return index
    }

    func probeIndex(_ key: UInt64, _ probe: Int) -> Int {
        let slots = UInt64(max(1, storage.clientCapacity - 1))
        return 1 + Int((key % slots + UInt64(probe)) % slots)
    }

    func hasEntry(key: UInt64) -> Bool {
        for probe in 0..<ClientTableLimits.probes {
            let entry = storage[client: probeIndex(key, probe)]
            if entry.key == key { return true }
            if entry.key == 0 { return false }
        }
        return false
    }

    func isReusable(_ entry: ClientEntry, now: Double) -> Bool {
        entry.key == 0
            || (entry.work == 0 && entry.queued == 0 && entry.running == 0 && entry.children == 0
                && entry.refusalTheoreticalArrival <= now && now - entry.lastActive > clientIdleSeconds)
    }

    /// Finds `key` in its probe window, or takes the first reusable entry there for it.
    mutating func entry(key: UInt64, kind: ClientKey.Kind, parent: Int?, now: Double) -> Int? {
        var reusable: Int?
        for probe in 0..<ClientTableLimits.probes {
            let index = probeIndex(key, probe)
            var entry = storage[client: index]
            if entry.key == key {
                // A leaf whose group was replaced cannot be: a group with leaves is never reused.
                guard parent == nil || entry.parent == parent else { return nil }
                entry.lastActive = now
                storage[client: index] = entry
                return index
            }
            if reusable == nil, isReusable(entry, now: now) { reusable = index }
            // Never used: the key cannot be further on.
            if entry.key == 0 { break }
        }
        guard let index = reusable else { return nil }
        let old = storage[client: index]
        if old.key != 0, old.parent != index {
            var oldGroup = storage[client: old.parent]
            oldGroup.children = max(0, oldGroup.children - 1)
            storage[client: old.parent] = oldGroup
        }
        var fresh = ClientEntry(key: key, parent: parent ?? index, kind: kind)
        fresh.lastActive = now
        storage[client: index] = fresh
        if let parent {
            var group = storage[client: parent]
            group.children += 1
            storage[client: parent] = group
        }
        return index
    }
}
