/// One entry of the client table: a group (an IPv4 /24, an IPv6 /48, a named end user, the
/// overflow group) or a leaf of one (an IPv4 address, an IPv6 /64). Work is counted in units of
/// a cost-0 hash (2^cost per job), so that it never drifts with the service-time estimate.
struct ClientEntry: Equatable, Sendable {
    /// The keyed hash of the client's key; 0 for an entry never used.
    var key: UInt64
    /// Its group's index; its own for a group.
    var parent: Int
    var kind: ClientKey.Kind
    /// A group's leaves.
    var children = 0
    /// A group's entries with work, itself included.
    var activeLeaves = 0
    var queued = 0
    var running = 0
    /// 2^cost over its own waiting and running jobs.
    var work: UInt64 = 0
    /// A group's own work and its leaves'.
    var groupWork: UInt64 = 0
    /// Work it was admitted recently, decaying (its rate, by which its share is judged), as of
    /// `recentAt`; jobs that leave before they start are taken off again.
    var recent = 0.0
    /// A group's own recent work and its leaves', as of `recentAt`.
    var groupRecent = 0.0
    var recentAt = 0.0
    /// Its oldest and newest waiting jobs (0: none).
    var head: UInt64 = 0
    var tail: UInt64 = 0
    /// Its neighbours in the list of entries with waiting jobs (-1: none).
    var waitingPrevious = -1
    var waitingNext = -1
    var lastActive = 0.0
    /// Its own refusal budget: GCRA's theoretical arrival time (monotonic seconds).
    var refusalTheoreticalArrival = 0.0
    /// Compute seconds it was given, decaying, as of `servedAt`.
    var served = 0.0
    var servedAt = 0.0
    var admitted: UInt64 = 0
    var refusedAtCapacity: UInt64 = 0
    var refusedOverShare: UInt64 = 0
    var displaced: UInt64 = 0

    /// An entry nobody has used.
    static let unused = ClientEntry(key: 0, parent: 0, kind: .none)

    /// The overflow group, entry 0: every newcomer that finds no room shares it.
    static let overflow = ClientEntry(key: ClientKey.overflowKey, parent: 0, kind: .overflow)
}
