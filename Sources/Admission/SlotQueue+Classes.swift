/// Job classes: bcrypt's are its costs (4...31); argon2id parameter sets are registered in a
/// small table (classes 0..<4) as they arrive, and a class whose jobs have all left is reused.
/// Each algorithm's time is learnt from its own jobs; a running job holds its class's memory.
extension SlotQueue {
    /// The lowest class that is bcrypt's: its costs start there.
    static var firstBcryptClass: Int { Storage.argon2Classes }

    /// The class `job` is counted in, registering an argon2id parameter set on first sight, or
    /// `nil` when the table is full of sets with jobs still waiting or running.
    mutating func classIndex(for job: JobClass) -> Int? {
        switch job {
        case .bcrypt(let cost):
            return min(max(cost, Self.firstBcryptClass), Storage.costClasses - 1)
        case .argon2id(let memory, let passes):
            var reusable: Int?
            for index in 0..<Storage.argon2Classes {
                let entry = storage[argon2Class: index]
                if entry.memoryKiB == memory, entry.passes == passes { return index }
                if reusable == nil, entry.memoryKiB == 0 || !inUse(argon2Class: index) { reusable = index }
            }
            guard let index = reusable else { return nil }
            // Its fair-share units: its predicted time in bcrypt's units, at least one.
            let units = argon2Seconds(memoryKiB: memory, passes: passes) / estimate.unitSeconds
            storage[argon2Class: index] = Argon2ClassEntry(
                memoryKiB: memory, passes: passes,
                fairUnits: units.isFinite ? UInt64(min(max(units.rounded(), 1), 1e15)) : 1)
            return index
        }
    }

    /// Whether a job of argon2id class `index` waits or runs. O(slots).
    func inUse(argon2Class index: Int) -> Bool {
        if storage.queuedCount(atCost: index) > 0 { return true }
        for slot in 0..<Storage.maximumSlots where storage[running: slot].ticket != 0 {
            if storage[running: slot].cost == index { return true }
        }
        return false
    }

    /// Whether class `index` is an argon2id one.
    static func isArgon2(_ index: Int) -> Bool { index >= 0 && index < Storage.argon2Classes }

    /// argon2id's seconds per KiB and pass, as stored, or a harmless one if something wrote nonsense there.
    var argon2Unit: Double {
        let unit = storage.argon2UnitSeconds
        return unit.isFinite && unit > 0 && unit < 1e-3 ? unit : 1e-8
    }

    private func argon2Seconds(memoryKiB: Int, passes: Int) -> Double {
        argon2Unit * Double(memoryKiB) * Double(passes)
    }

    /// The predicted time of a job of class `index` alone in a slot.
    func seconds(forClass index: Int) -> Double {
        guard Self.isArgon2(index) else { return estimate.seconds(forCost: index) }
        let entry = storage[argon2Class: index]
        return argon2Seconds(memoryKiB: entry.memoryKiB, passes: entry.passes)
    }

    /// The memory a running job of class `index` holds, in KiB.
    func memoryKiB(ofClass index: Int) -> Int {
        Self.isArgon2(index) ? storage[argon2Class: index].memoryKiB : 0
    }

    /// A job's work in the fair share's units.
    func fairUnits(ofClass index: Int) -> UInt64 {
        Self.isArgon2(index) ? max(1, storage[argon2Class: index].fairUnits) : Self.units(ofCost: index)
    }

    /// Whether a job of class `index` may start now without the running jobs' memory passing the budget.
    func memoryFits(class index: Int) -> Bool {
        let budget = storage.memoryBudgetKiB
        let needed = memoryKiB(ofClass: index)
        return budget <= 0 || needed == 0 || needed <= budget - min(storage.memoryInUseKiB, budget)
    }

    /// How many jobs may run at once as the memory budget allows, when the waiting jobs, the
    /// running ones and a newcomer of class `index` are argon2id at the largest memory among
    /// them: the prediction's width when it is below the slots. `nil`: memory does not bind.
    func memoryBoundSlots(newClass index: Int) -> Int? {
        let budget = storage.memoryBudgetKiB
        guard budget > 0 else { return nil }
        var largest = memoryKiB(ofClass: index)
        for argon2 in 0..<Storage.argon2Classes where storage.queuedCount(atCost: argon2) > 0 {
            largest = max(largest, storage[argon2Class: argon2].memoryKiB)
        }
        if storage.memoryInUseKiB > 0 {
            for slot in 0..<Storage.maximumSlots where storage[running: slot].ticket != 0 {
                largest = max(largest, memoryKiB(ofClass: storage[running: slot].cost))
            }
        }
        guard largest > 0 else { return nil }
        let fitting = max(1, budget / largest)
        return fitting < storage.slots ? fitting : nil
    }

    /// Teaches argon2id's estimate how long a job of class `index` held its slot.
    mutating func observeArgon2(seconds: Double, class index: Int) {
        let entry = storage[argon2Class: index]
        let work = Double(entry.memoryKiB) * Double(entry.passes)
        guard seconds.isFinite, seconds > 0, work > 0 else { return }
        var estimate = ServiceTimeEstimate(unitSeconds: argon2Unit, samples: storage.argon2Samples)
        estimate.observe(seconds: seconds / work, atCost: 0)
        storage.argon2UnitSeconds = estimate.unitSeconds
        storage.argon2Samples = estimate.samples
    }
}
