/// The fair share's one decision: when a job would not fit, whose waiting work it may take the
/// place of.
extension SlotQueue {
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
    func victim(for client: Int, units: UInt64, now: Double) -> (ticket: UInt64?, overShare: Bool) {
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
    func heaviestWaiting(outside excluded: Int, need: Double, over share: Double, now: Double) -> UInt64? {
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
    func heaviestWaiting(inside group: Int, besides: Int, need: Double, over share: Double, now: Double)
        -> UInt64?
    {
        guard let (ticket, weight) = newestWaiting(inside: group, besides: besides, now: now) else { return nil }
        let work = recentWork(ofClient: storage[job: ticket].client ?? 0, now: now)
        guard work > share, work - weight >= need else { return nil }
        return ticket
    }

    /// The newest waiting job of the entry of `group` with waiting jobs and the most recent
    /// work, and how much of that work the job is.
    func newestWaiting(inside group: Int, besides: Int, now: Double) -> (UInt64, Double)? {
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
