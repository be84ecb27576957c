import CSharedState

/// argon2id's estimate, its classes and the memory budget, as the segment keeps them.
extension SegmentView {
    var argon2UnitSeconds: Double {
        get { shared.pointee.argon2_unit_seconds }
        nonmutating set { shared.pointee.argon2_unit_seconds = newValue }
    }

    var argon2Samples: Int {
        get { Int(clamping: shared.pointee.argon2_samples) }
        nonmutating set { shared.pointee.argon2_samples = UInt64(max(0, newValue)) }
    }

    var memoryBudgetKiB: Int { Int(clamping: shared.pointee.memory_budget_kib) }

    var memoryInUseKiB: Int {
        get { Int(clamping: shared.pointee.memory_in_use_kib) }
        nonmutating set { shared.pointee.memory_in_use_kib = UInt64(max(0, newValue)) }
    }

    subscript(argon2Class index: Int) -> Argon2ClassEntry {
        get {
            let entry = fl_segment_argon2_class(shared, UInt32(truncatingIfNeeded: index)).pointee
            return Argon2ClassEntry(
                memoryKiB: Int(entry.memory_kib), passes: Int(entry.passes), fairUnits: entry.fair_units)
        }
        nonmutating set {
            fl_segment_argon2_class(shared, UInt32(truncatingIfNeeded: index)).pointee = fl_argon2_class(
                memory_kib: UInt32(clamping: newValue.memoryKiB), passes: UInt32(clamping: newValue.passes),
                fair_units: newValue.fairUnits)
        }
    }

    subscript(classRecent index: Int) -> Double {
        get { fl_segment_class_recent(shared, UInt32(truncatingIfNeeded: index)).pointee }
        nonmutating set { fl_segment_class_recent(shared, UInt32(truncatingIfNeeded: index)).pointee = newValue }
    }

    var classRecentAt: Double {
        get { Self.seconds(shared.pointee.class_recent_at_ns) }
        nonmutating set { shared.pointee.class_recent_at_ns = Self.nanoseconds(newValue) }
    }

    subscript(classRefusedAt index: Int) -> Double {
        get { Self.seconds(fl_segment_class_refused(shared, UInt32(truncatingIfNeeded: index)).pointee) }
        nonmutating set {
            fl_segment_class_refused(shared, UInt32(truncatingIfNeeded: index)).pointee = Self.nanoseconds(newValue)
        }
    }
}
