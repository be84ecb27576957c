// The fair share as the stats and the monitor report it.

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

    func clientFigures(_ index: Int, servedTotal total: Double, now: Double)
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
