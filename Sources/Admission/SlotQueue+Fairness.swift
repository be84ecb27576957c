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
/// cost-14 job weighs four cost-12 jobs. Fairness is first among groups (a /24, a /48, a named
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

    private func probeIndex(_ key: UInt64, _ probe: Int) -> Int {
        let slots = UInt64(max(1, storage.clientCapacity - 1))
        return 1 + Int((key % slots + UInt64(probe)) % slots)
    }

    private func hasEntry(key: UInt64) -> Bool {
        for probe in 0..<ClientTableLimits.probes {
            let entry = storage[client: probeIndex(key, probe)]
            if entry.key == key { return true }
            if entry.key == 0 { return false }
        }
        return false
    }

    private func isReusable(_ entry: ClientEntry, now: Double) -> Bool {
        entry.key == 0
            || (entry.work == 0 && entry.queued == 0 && entry.running == 0 && entry.children == 0
                && entry.refusalTheoreticalArrival <= now && now - entry.lastActive > clientIdleSeconds)
    }

    /// Finds `key` in its probe window, or takes the first reusable entry there for it.
    private mutating func entry(key: UInt64, kind: ClientKey.Kind, parent: Int?, now: Double) -> Int? {
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

    // MARK: - Keeping the counts

    /// Adds or takes away work of a client: its own, its group's, and the host's.
    private mutating func changeWork(client index: Int, by units: UInt64, adding: Bool, now: Double) {
        var leaf = storage[client: index]
        let before = leaf.work
        leaf.work = adding ? before &+ units : before - min(units, before)
        let after = leaf.work
        storage[client: index] = leaf
        var group = storage[client: leaf.parent]
        let groupBefore = group.groupWork
        group.groupWork = adding ? groupBefore &+ units : groupBefore - min(units, groupBefore)
        if before == 0, after > 0 { group.activeLeaves += 1 }
        if before > 0, after == 0 { group.activeLeaves = max(0, group.activeLeaves - 1) }
        storage[client: leaf.parent] = group
        // A group's recent work counts towards the active total while it has work.
        if groupBefore == 0, group.groupWork > 0 {
            storage.activeGroups += 1
            changeActiveRecent(by: recentWork(ofGroup: leaf.parent, now: now), now: now)
        }
        if groupBefore > 0, group.groupWork == 0 {
            storage.activeGroups = max(0, storage.activeGroups - 1)
            changeActiveRecent(by: -recentWork(ofGroup: leaf.parent, now: now), now: now)
        }
        storage.totalWork = adding ? storage.totalWork &+ units : storage.totalWork - min(units, storage.totalWork)
    }

    /// Puts a client in the list of entries with waiting jobs.
    private mutating func linkWaiting(_ index: Int) {
        var entry = storage[client: index]
        entry.waitingPrevious = -1
        entry.waitingNext = storage.waitingClients
        storage[client: index] = entry
        if entry.waitingNext >= 0 {
            var next = storage[client: entry.waitingNext]
            next.waitingPrevious = index
            storage[client: entry.waitingNext] = next
        }
        storage.waitingClients = index
    }

    private mutating func unlinkWaiting(_ index: Int) {
        var entry = storage[client: index]
        if entry.waitingPrevious >= 0 {
            var previous = storage[client: entry.waitingPrevious]
            previous.waitingNext = entry.waitingNext
            storage[client: entry.waitingPrevious] = previous
        } else if storage.waitingClients == index {
            storage.waitingClients = entry.waitingNext
        }
        if entry.waitingNext >= 0 {
            var next = storage[client: entry.waitingNext]
            next.waitingPrevious = entry.waitingPrevious
            storage[client: entry.waitingNext] = next
        }
        entry.waitingPrevious = -1
        entry.waitingNext = -1
        storage[client: index] = entry
    }

    /// A job just entered the queue (or came back to it): it joins the back of its client's
    /// waiting jobs, and its work counts as admitted recently (as much as is left of it since
    /// its admission).
    mutating func attachWaiting(ticket: UInt64, now: Double) {
        var job = storage[job: ticket]
        guard let index = job.client else { return }
        var entry = storage[client: index]
        job.clientPrevious = entry.tail
        job.clientNext = 0
        storage[job: ticket] = job
        if entry.tail != 0 {
            var last = storage[job: entry.tail]
            last.clientNext = ticket
            storage[job: entry.tail] = last
        } else {
            entry.head = ticket
        }
        entry.tail = ticket
        entry.queued += 1
        entry.lastActive = now
        storage[client: index] = entry
        if entry.queued == 1 { linkWaiting(index) }
        changeWork(client: index, by: fairUnits(ofClass: job.cost), adding: true, now: now)
        changeRecent(client: index, by: recentWeight(of: job, now: now), now: now)
    }

    /// A waiting job leaves its client's waiting jobs: it got a slot (`starts`), or it left
    /// the queue (refused at its deadline, displaced, or its process died), and then its work no
    /// longer counts as admitted.
    mutating func detachWaiting(ticket: UInt64, starts: Bool, now: Double) {
        let job = storage[job: ticket]
        guard let index = job.client else { return }
        var entry = storage[client: index]
        if job.clientPrevious != 0 {
            var previous = storage[job: job.clientPrevious]
            previous.clientNext = job.clientNext
            storage[job: job.clientPrevious] = previous
        } else if entry.head == ticket {
            entry.head = job.clientNext
        }
        if job.clientNext != 0 {
            var next = storage[job: job.clientNext]
            next.clientPrevious = job.clientPrevious
            storage[job: job.clientNext] = next
        } else if entry.tail == ticket {
            entry.tail = job.clientPrevious
        }
        entry.queued = max(0, entry.queued - 1)
        if starts { entry.running += 1 }
        storage[client: index] = entry
        if entry.queued == 0 { unlinkWaiting(index) }
        if !starts {
            changeRecent(client: index, by: -recentWeight(of: job, now: now), now: now)
            changeWork(client: index, by: fairUnits(ofClass: job.cost), adding: false, now: now)
        }
    }

    /// A job that held a slot ended: its work leaves its client, and what it ran is counted.
    mutating func detachRunning(_ job: QueueEntry, servedSeconds: Double, now: Double) {
        guard let index = job.client else { return }
        var entry = storage[client: index]
        entry.running = max(0, entry.running - 1)
        entry.lastActive = now
        if servedSeconds > 0 {
            entry.served = Self.decayed(entry.served, from: entry.servedAt, to: now) + servedSeconds
            entry.servedAt = now
            storage.servedTotal =
                Self.decayed(storage.servedTotal, from: storage.servedTotalAt, to: now) + servedSeconds
            storage.servedTotalAt = now
        }
        storage[client: index] = entry
        changeWork(client: index, by: fairUnits(ofClass: job.cost), adding: false, now: now)
    }

    /// `value`, set at `from`, as it stands at `to` (halving every `halfLife` seconds).
    static func decayed(
        _ value: Double, from: Double, to: Double, halfLife: Double = ClientTableLimits.servedHalfLife
    ) -> Double {
        guard value > 0, to > from else { return value }
        return value * exp2(-(to - from) / halfLife)
    }

    // MARK: - Recent work

    /// What is left now of a job's work admitted at its admission.
    private func recentWeight(of job: QueueEntry, now: Double) -> Double {
        Self.decayed(Double(fairUnits(ofClass: job.cost)), from: job.admittedAt, to: now, halfLife: recentHalfLife)
    }

    /// A client's own recent work now.
    func recentWork(ofClient index: Int, now: Double) -> Double {
        let entry = storage[client: index]
        return Self.decayed(entry.recent, from: entry.recentAt, to: now, halfLife: recentHalfLife)
    }

    /// A group's recent work now, its leaves' included.
    func recentWork(ofGroup index: Int, now: Double) -> Double {
        let entry = storage[client: index]
        return Self.decayed(entry.groupRecent, from: entry.recentAt, to: now, halfLife: recentHalfLife)
    }

    /// The recent work of every group with work, together, now.
    func activeRecentWork(now: Double) -> Double {
        Self.decayed(storage.activeRecent, from: storage.activeRecentAt, to: now, halfLife: recentHalfLife)
    }

    private mutating func changeActiveRecent(by amount: Double, now: Double) {
        storage.activeRecent = max(0, activeRecentWork(now: now) + amount)
        storage.activeRecentAt = now
    }

    /// Adds (or, negative, takes away) recent work of a client: its own, its group's, and the
    /// active total's while its group has work. Every figure is first brought up to `now`.
    private mutating func changeRecent(client index: Int, by amount: Double, now: Double) {
        bringRecentUpToDate(index, now: now)
        var leaf = storage[client: index]
        leaf.recent = max(0, leaf.recent + amount)
        storage[client: index] = leaf
        bringRecentUpToDate(leaf.parent, now: now)
        var group = storage[client: leaf.parent]
        group.groupRecent = max(0, group.groupRecent + amount)
        storage[client: leaf.parent] = group
        if group.groupWork > 0 { changeActiveRecent(by: amount, now: now) }
    }

    private mutating func bringRecentUpToDate(_ index: Int, now: Double) {
        var entry = storage[client: index]
        guard entry.recentAt != now else { return }
        entry.recent = Self.decayed(entry.recent, from: entry.recentAt, to: now, halfLife: recentHalfLife)
        entry.groupRecent = Self.decayed(entry.groupRecent, from: entry.recentAt, to: now, halfLife: recentHalfLife)
        entry.recentAt = now
        storage[client: index] = entry
    }

    // MARK: - Making room for a client under its share

    /// Why a job that would not fit is refused, or that it fits now.
    enum RoomOutcome {
        /// Waiting work was displaced; the job fits with this prediction.
        case made(AdmissionPredictor.Prediction)
        case refused(overShare: Bool)
    }

    /// Displaces waiting jobs of the clients most over their share, the newest first, until a
    /// job at `cost` from `client` fits with its own service time to spare, at most
    /// `(1 − headroom) × N` (or at least fits, when there is no more to take fairly) — or, if it
    /// cannot fit, displaces nothing.
    mutating func makeRoom(
        for client: Int, cost: Int, arrivedAt: Double, pid: Int32, now: Double, woken: inout WakeList
    ) -> RoomOutcome {
        let units = fairUnits(ofClass: cost)
        let elapsed = now - arrivedAt
        // The newcomer goes to the back, where a machine that slows down hurts first: room is made
        // for it and, while there is fair work to take, for its own service time more (at most
        // the headroom's share of N again).
        let service = seconds(forClass: cost)
        let comfortable = policy.deadline * policy.headroom - min(service, policy.deadline * (1 - policy.headroom))
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: ClientTableLimits.maximumDisplaced) { taken in
            var count = 0
            var overShare = false
            var fitted: AdmissionPredictor.Prediction?
            while count < ClientTableLimits.maximumDisplaced {
                if let fit = fitted, elapsed + fit.completesIn <= comfortable { break }
                let choice = victim(for: client, units: units, now: now)
                if count == 0 { overShare = choice.overShare }
                guard let ticket = choice.ticket else { break }
                leaveQueue(ticket, now: now)
                taken[count] = ticket
                count += 1
                let (prediction, service) = predict(cost: cost, now: now)
                if policy.decide(prediction, serviceSeconds: service, elapsed: elapsed) == .admit {
                    fitted = prediction
                }
            }
            guard let fitted else {
                // Not enough to be had: everything goes back as it was, in the order it came out.
                for index in stride(from: count - 1, through: 0, by: -1) { rejoinQueue(taken[index], now: now) }
                return .refused(overShare: overShare)
            }
            for index in 0..<count {
                var job = storage[job: taken[index]]
                job.displaced = true
                storage[job: taken[index]] = job
                if let owner = job.client {
                    var entry = storage[client: owner]
                    entry.displaced &+= 1
                    storage[client: owner] = entry
                }
                storage.record(.displaced(pid: job.pid))
                woken.append(taken[index])
            }
            return .made(fitted)
        }
    }

    /// The newest waiting job of the client most over its share, if taking it is fair to
    /// `client` (whose next job weighs `units`), and whether `client` itself is over its share.
    ///
    /// First among groups: a group may take from the group with the most recent work that has a
    /// job waiting, if that one is over an equal part of the active groups' recent work and keeps
    /// at least as much as the newcomer's group then has. That is max-min fairness wherever the
    /// equal part lies: a light client that just sent a burst takes from a flood even while many
    /// other light clients, each asking little, pull the equal part down to theirs; and a client
    /// under the equal part is never taken from. If no group may be taken from, the same among
    /// the leaves of the newcomer's group, which leaves every other group as it was. A client
    /// refused with nothing to take is over its share if it has more than an equal part: its
    /// refusal says so, and is paced by its own budget.
    private func victim(for client: Int, units: UInt64, now: Double) -> (ticket: UInt64?, overShare: Bool) {
        let leaf = storage[client: client]
        let groupIndex = leaf.parent
        let group = storage[client: groupIndex]
        let weight = Double(units)
        var overShare = false
        let groups = storage.activeGroups + (group.groupWork == 0 ? 1 : 0)
        if groups > 1 {
            let need = recentWork(ofGroup: groupIndex, now: now) + weight
            let active =
                activeRecentWork(now: now) + (group.groupWork == 0 ? recentWork(ofGroup: groupIndex, now: now) : 0)
            let equalPart = (active + weight) / Double(groups)
            if let ticket = heaviestWaiting(outside: groupIndex, need: need, over: equalPart, now: now) {
                return (ticket, false)
            }
            overShare = need > equalPart
        }
        let leaves = group.activeLeaves + (leaf.work == 0 ? 1 : 0)
        if leaves > 1 {
            let need = recentWork(ofClient: client, now: now) + weight
            let equalPart = (recentWork(ofGroup: groupIndex, now: now) + weight) / Double(leaves)
            if let ticket = heaviestWaiting(inside: groupIndex, besides: client, need: need, over: equalPart, now: now)
            {
                return (ticket, false)
            }
            overShare = overShare || need > equalPart
        }
        return (nil, overShare)
    }

    /// The newest waiting job of the heaviest leaf of the group with the most recent work other
    /// than `excluded`, if that group is over the equal part `share` and keeps at least `need`
    /// without it. A group under the equal part asks less than its share, and gets all it asks:
    /// another light client never takes its place.
    private func heaviestWaiting(outside excluded: Int, need: Double, over share: Double, now: Double) -> UInt64? {
        var heaviest = -1
        var heaviestWork = 0.0
        var index = storage.waitingClients
        var steps = 0
        while index >= 0, steps < storage.clientCapacity {
            let entry = storage[client: index]
            if entry.parent != excluded, entry.parent != heaviest {
                let work = recentWork(ofGroup: entry.parent, now: now)
                if heaviest < 0 || work > heaviestWork {
                    heaviest = entry.parent
                    heaviestWork = work
                }
            }
            index = entry.waitingNext
            steps += 1
        }
        guard heaviest >= 0, let (ticket, weight) = newestWaiting(inside: heaviest, besides: -1, now: now),
            heaviestWork > share, heaviestWork - weight >= need
        else { return nil }
        return ticket
    }

    /// The newest waiting job of the leaf of `group` (other than `besides`) with the most recent
    /// work, if that leaf is over the equal part `share` and keeps at least `need` without it.
    private func heaviestWaiting(inside group: Int, besides: Int, need: Double, over share: Double, now: Double)
        -> UInt64?
    {
        guard let (ticket, weight) = newestWaiting(inside: group, besides: besides, now: now) else { return nil }
        let work = recentWork(ofClient: storage[job: ticket].client ?? 0, now: now)
        guard work > share, work - weight >= need else { return nil }
        return ticket
    }

    /// The newest waiting job of the entry of `group` with waiting jobs and the most recent
    /// work, and how much of that work the job is.
    private func newestWaiting(inside group: Int, besides: Int, now: Double) -> (UInt64, Double)? {
        var heaviest = -1
        var heaviestWork = 0.0
        var index = storage.waitingClients
        var steps = 0
        while index >= 0, steps < storage.clientCapacity {
            let entry = storage[client: index]
            if entry.parent == group, index != besides, entry.tail != 0 {
                let work = recentWork(ofClient: index, now: now)
                if heaviest < 0 || work > heaviestWork {
                    heaviest = index
                    heaviestWork = work
                }
            }
            index = entry.waitingNext
            steps += 1
        }
        guard heaviest >= 0 else { return nil }
        let ticket = storage[client: heaviest].tail
        return (ticket, recentWeight(of: storage[job: ticket], now: now))
    }
}

// MARK: - Figures

extension SlotQueue {
    /// The fair share as `/api/stats` and the monitor show it: how many clients are active, how
    /// many keys the table holds, the `top` clients by recent compute time, keys hashed, and the
    /// overflow entry that newcomers share when the table is full.
    func fairShareFigures(now: Double, top count: Int = 5) -> AdmissionSnapshot.FairShare {
        var figures = AdmissionSnapshot.FairShare(
            activeGroups: storage.activeGroups, activeClients: 0, trackedKeys: 0, top: [], overflow: nil)
        let total = Self.decayed(storage.servedTotal, from: storage.servedTotalAt, to: now)
        var top: [AdmissionSnapshot.FairShare.Client] = []
        for index in 0..<storage.clientCapacity {
            let entry = storage[client: index]
            guard entry.key != 0 else { continue }
            if entry.work > 0 { figures.activeClients += 1 }
            let idle =
                entry.work == 0 && entry.queued == 0 && entry.running == 0 && entry.children == 0
                && now - entry.lastActive > clientIdleSeconds
            if !idle && index != 0 { figures.trackedKeys += 1 }
            let served = Self.decayed(entry.served, from: entry.servedAt, to: now)
            let client = clientFigures(index, servedTotal: total, now: now)
            if index == 0 { figures.overflow = client }
            guard served > 0 || entry.work > 0 else { continue }
            if top.count < count || served > top[top.count - 1].servedSeconds {
                let position = top.firstIndex { $0.servedSeconds < served } ?? top.count
                top.insert(client, at: position)
                if top.count > count { top.removeLast() }
            }
        }
        figures.top = top
        return figures
    }

    private func clientFigures(_ index: Int, servedTotal total: Double, now: Double)
        -> AdmissionSnapshot.FairShare.Client
    {
        let entry = storage[client: index]
        let served = Self.decayed(entry.served, from: entry.servedAt, to: now)
        return AdmissionSnapshot.FairShare.Client(
            label: ClientKey.label(kind: entry.kind, key: entry.key),
            share: total > 0 ? min(1, served / total) : 0, servedSeconds: served,
            recentWorkSeconds: recentWork(ofClient: index, now: now) * estimate.unitSeconds, queued: entry.queued,
            running: entry.running, admitted: entry.admitted, refusedAtCapacity: entry.refusedAtCapacity,
            refusedOverShare: entry.refusedOverShare, displaced: entry.displaced)
    }
}
