/// The share of the hashing between job classes (bcrypt's costs, argon2id's parameter sets).
///
/// Under overload the queue stays filled to the headroom, and room appears a job's time at a
/// time as it drains: without this, a short job (argon2id at OWASP's parameters is a sixth of a
/// bcrypt at cost 12) would take every bit of room before a long one could fit, and the long
/// class would be refused for as long as the overload lasts, whoever sends it. So, as the fair
/// share does between clients, classes share by work: while a class with less recent work than
/// the newcomer's was refused at capacity within the last N, the newcomer must leave room behind
/// it for one job of that class, or is refused. A class alone, or classes that all fit, are
/// untouched.
extension SlotQueue {
    /// The seconds of room a newcomer of class `cost` must leave: the service time of the
    /// longest class refused at capacity within the last N that has less recent work than its own.
    func roomToLeave(for cost: Int, now: Double) -> Double {
        let mine = classRecent(cost, now: now)
        guard mine > 0 else { return 0 }
        var room = 0.0
        for other in 0..<Storage.costClasses where other != cost {
            let refusedAt = storage[classRefusedAt: other]
            guard refusedAt > 0, now - refusedAt <= policy.deadline, classRecent(other, now: now) < mine else {
                continue
            }
            room = max(room, seconds(forClass: other))
        }
        return room.isFinite ? min(room, policy.deadline) : 0
    }

    /// Class `cost`'s recently admitted work now.
    func classRecent(_ cost: Int, now: Double) -> Double {
        let value = Self.decayed(
            storage[classRecent: cost], from: storage.classRecentAt, to: now, halfLife: recentHalfLife)
        return value.isFinite ? max(0, value) : 0
    }

    /// Counts an admitted job of class `cost` in its class's recent work (every class brought up
    /// to `now` first: they share one timestamp).
    mutating func countClassWork(_ cost: Int, now: Double) {
        let at = storage.classRecentAt
        if now > at {
            for index in 0..<Storage.costClasses where storage[classRecent: index] != 0 {
                storage[classRecent: index] = Self.decayed(
                    storage[classRecent: index], from: at, to: now, halfLife: recentHalfLife)
            }
            storage.classRecentAt = now
        }
        let before = storage[classRecent: cost]
        let after = (before.isFinite ? before : 0) + Double(fairUnits(ofClass: cost))
        storage[classRecent: cost] = after
    }
}
