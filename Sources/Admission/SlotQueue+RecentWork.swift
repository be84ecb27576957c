/// The fair share's measure: the work each client was admitted recently, decaying with a
/// half-life of 2 N, by which its share is judged.
extension SlotQueue {
    // MARK: - Recent work

    /// What is left now of a job's work admitted at its admission.
    func recentWeight(of job: QueueEntry, now: Double) -> Double {
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

    mutating func changeActiveRecent(by amount: Double, now: Double) {
        storage.activeRecent = max(0, activeRecentWork(now: now) + amount)
        storage.activeRecentAt = now
    }

    /// Adds (or, negative, takes away) recent work of a client: its own, its group's, and the
    /// active total's while its group has work. Every figure is first brought up to `now`.
    mutating func changeRecent(client index: Int, by amount: Double, now: Double) {
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

    mutating func bringRecentUpToDate(_ index: Int, now: Double) {
        var entry = storage[client: index]
        guard entry.recentAt != now else { return }
        entry.recent = Self.decayed(entry.recent, from: entry.recentAt, to: now, halfLife: recentHalfLife)
        entry.groupRecent = Self.decayed(entry.groupRecent, from: entry.recentAt, to: now, halfLife: recentHalfLife)
        entry.recentAt = now
        storage[client: index] = entry
    }
}
