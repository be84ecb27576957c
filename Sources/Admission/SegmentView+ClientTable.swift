import CSharedState

/// The fair share's client table and its totals, as the segment keeps them.
extension SegmentView {
    /// A job's `client` when it has none.
    static let noClient = UInt32.max

    var clientCapacity: Int { Int(FL_MAX_CLIENTS) }

    subscript(client index: Int) -> ClientEntry {
        get {
            let entry = fl_segment_client(shared, UInt32(truncatingIfNeeded: index)).pointee
            var client = ClientEntry(
                key: entry.key, parent: Int(entry.parent % FL_MAX_CLIENTS),
                kind: ClientKey.Kind(rawValue: entry.kind) ?? .none)
            client.children = Int(entry.children)
            client.activeLeaves = Int(entry.active_leaves)
            client.queued = Int(entry.queued)
            client.running = Int(entry.running)
            client.work = entry.work
            client.groupWork = entry.group_work
            client.recent = entry.recent_work.isFinite ? max(0, entry.recent_work) : 0
            client.groupRecent = entry.group_recent_work.isFinite ? max(0, entry.group_recent_work) : 0
            client.recentAt = Self.seconds(entry.recent_at_ns)
            client.head = entry.head
            client.tail = entry.tail
            client.waitingPrevious =
                entry.waiting_previous < 0 ? -1 : Int(UInt32(entry.waiting_previous) % FL_MAX_CLIENTS)
            client.waitingNext = entry.waiting_next < 0 ? -1 : Int(UInt32(entry.waiting_next) % FL_MAX_CLIENTS)
            client.lastActive = Self.seconds(entry.last_active_ns)
            client.refusalTheoreticalArrival = Self.seconds(entry.refusal_tat_ns)
            client.served = entry.served_seconds.isFinite ? entry.served_seconds : 0
            client.servedAt = Self.seconds(entry.served_at_ns)
            client.admitted = entry.admitted
            client.refusedAtCapacity = entry.refused_at_capacity
            client.refusedOverShare = entry.refused_over_share
            client.displaced = entry.displaced
            return client
        }
        nonmutating set {
            fl_segment_client(shared, UInt32(truncatingIfNeeded: index)).pointee = fl_client(
                key: newValue.key, parent: UInt32(clamping: newValue.parent), kind: newValue.kind.rawValue,
                children: UInt32(clamping: newValue.children), active_leaves: UInt32(clamping: newValue.activeLeaves),
                queued: UInt32(clamping: newValue.queued), running: UInt32(clamping: newValue.running),
                work: newValue.work, group_work: newValue.groupWork, recent_work: newValue.recent,
                group_recent_work: newValue.groupRecent, recent_at_ns: Self.nanoseconds(newValue.recentAt),
                head: newValue.head, tail: newValue.tail,
                waiting_previous: Int32(clamping: newValue.waitingPrevious),
                waiting_next: Int32(clamping: newValue.waitingNext),
                last_active_ns: Self.nanoseconds(newValue.lastActive),
                refusal_tat_ns: Self.nanoseconds(newValue.refusalTheoreticalArrival),
                served_seconds: newValue.served, served_at_ns: Self.nanoseconds(newValue.servedAt),
                admitted: newValue.admitted, refused_at_capacity: newValue.refusedAtCapacity,
                refused_over_share: newValue.refusedOverShare, displaced: newValue.displaced)
        }
    }

    var totalWork: UInt64 {
        get { shared.pointee.total_work }
        nonmutating set { shared.pointee.total_work = newValue }
    }

    var activeGroups: Int {
        get { Int(shared.pointee.active_groups) }
        nonmutating set { shared.pointee.active_groups = UInt32(clamping: newValue) }
    }

    var waitingClients: Int {
        get {
            let first = shared.pointee.waiting_clients
            return first < 0 ? -1 : Int(UInt32(first) % FL_MAX_CLIENTS)
        }
        nonmutating set { shared.pointee.waiting_clients = Int32(clamping: newValue) }
    }

    var activeRecent: Double {
        get { shared.pointee.active_recent_work.isFinite ? max(0, shared.pointee.active_recent_work) : 0 }
        nonmutating set { shared.pointee.active_recent_work = newValue }
    }

    var activeRecentAt: Double {
        get { Self.seconds(shared.pointee.active_recent_at_ns) }
        nonmutating set { shared.pointee.active_recent_at_ns = Self.nanoseconds(newValue) }
    }

    var servedTotal: Double {
        get { shared.pointee.served_total.isFinite ? shared.pointee.served_total : 0 }
        nonmutating set { shared.pointee.served_total = newValue }
    }

    var servedTotalAt: Double {
        get { Self.seconds(shared.pointee.served_total_at_ns) }
        nonmutating set { shared.pointee.served_total_at_ns = Self.nanoseconds(newValue) }
    }
}
