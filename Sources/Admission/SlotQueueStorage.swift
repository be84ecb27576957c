/// A job's entry in the queue's ring, as the slot-queue decisions see it (times in monotonic seconds).
struct QueueEntry: Equatable, Sendable {
    enum State: UInt32, Sendable {
        /// Never used, or the job left: the entry may be taken.
        case free = 0
        /// Waiting for a compute slot.
        case queued = 1
        /// Holding a slot.
        case running = 2
    }

    var state: State
    /// The worker process that holds the job's request.
    var pid: Int32
    var cost: Int
    /// Arrival order; 0 for an entry never used.
    var ticket: UInt64
    /// When nginx received the request: N counts from here.
    var arrivedAt: Double
    var admittedAt: Double
    /// When it got its slot (0 before).
    var startedAt: Double
    /// Its entry in the running slots while it runs.
    var runningSlot: Int
    /// Set as the job is handed its slot: the word its waiter sleeps on, so a storage shared
    /// between processes writes it last, with release ordering.
    var granted: Bool
    /// Its client's entry in the client table, or `nil` when admission is not fair-shared.
    var client: Int? = nil
    /// The client's waiting job before and after this one, by ticket (0: none).
    var clientPrevious: UInt64 = 0
    var clientNext: UInt64 = 0
    /// Set as the job is displaced by a client under its share (on the same word as `granted`):
    /// the entry is free, and its waiter answers 503 at once.
    var displaced = false
    /// While it runs: the first ticket of its batch (its own when it leads or runs alone), and
    /// how many jobs the batch holds.
    var batchHead: UInt64 = 0
    var batchSize = 1

    /// An entry nobody has used.
    static let unused = QueueEntry(
        state: .free, pid: 0, cost: 0, ticket: 0, arrivedAt: 0, admittedAt: 0, startedAt: 0, runningSlot: 0,
        granted: false)
}

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

/// One compute slot: the job holding it, or `ticket == 0` when it is free.
struct RunningEntry: Equatable, Sendable {
    /// The job that holds it, first of its batch.
    var ticket: UInt64
    var cost: Int
    var pid: Int32
    var startedAt: Double
    /// Jobs of the batch run in it (1: a job alone).
    var lanes = 1
    /// Of those, the ones not yet ended: the slot is free when none is left.
    var membersLeft = 1

    /// A slot nobody holds.
    static let free = RunningEntry(ticket: 0, cost: 0, pid: 0, startedAt: 0, lanes: 1, membersLeft: 0)
}

/// What the queue has learnt of batches of one size: how long one holds a slot, as a multiple
/// of one job's time at the same cost.
struct BatchFactor: Equatable, Sendable {
    /// 0 when nothing is learnt yet.
    var factor: Double
    var samples: Int

    static let unlearnt = BatchFactor(factor: 0, samples: 0)
}

/// What a decision did, for the counters, histograms and the worker table; decisions never read
/// these back, so a storage may record them however it likes.
enum QueueEvent: Equatable, Sendable {
    /// A job entered the queue.
    case admitted
    /// Refused as it arrived; `late` when only the time it had already waited made it miss N,
    /// `paced` when the refusal budget holds its answer back, `overShare` when its client was
    /// over its fair share.
    case refusedAtOnce(pid: Int32, late: Bool, paced: Bool, overShare: Bool = false)
    /// A waiting job gave its place to a client under its share.
    case displaced(pid: Int32)
    /// A key found no room in the client table and shares the overflow group (or its own group).
    case keyOverflowed
    /// A waiting job reached its latest start without a slot and left.
    case refusedAtDeadline(pid: Int32)
    /// A waiting job got a slot at `at` after waiting `wait` seconds since admission.
    case granted(at: Double, wait: Double)
    /// A job that held a slot ended; `responseSeconds` is nil when its answer was not its result.
    case ended(pid: Int32, outcome: AdmissionController.JobOutcome, serviceSeconds: Double, responseSeconds: Double?)
    /// A job that ran outside admission control ended.
    case ranUnadmitted(pid: Int32, delivered: Bool, waitSeconds: Double, serviceSeconds: Double, at: Double)
    /// Jobs of processes that died were freed.
    case recovered(jobs: Int)
    /// An argon2id job delivered its answer (counted in `ended` too).
    case argon2Delivered
}

/// Where the slot queue keeps its state: the shared segment in production (``SegmentView``), an
/// array in the unit tests. Every requirement is O(1) and allocates nothing, so that the
/// decisions, written once over this protocol, cost the same on either.
protocol SlotQueueStorage {
    /// Compute slots (at most ``SharedSegment/maximumSlots``).
    var slots: Int { get }
    /// Entries in the job ring: ticket `t` lives at `t % jobCapacity`.
    var jobCapacity: Int { get }
    /// The service-time estimate's seconds at cost 0, as stored (the queue sanitises it).
    var unitSeconds: Double { get set }
    var estimateSamples: Int { get set }
    /// argon2id's estimate: seconds per KiB and pass, as stored (the queue sanitises it).
    var argon2UnitSeconds: Double { get set }
    var argon2Samples: Int { get set }
    /// The most memory running jobs may hold together, in KiB; 0: no bound.
    var memoryBudgetKiB: Int { get }
    /// The memory running jobs hold now, in KiB.
    var memoryInUseKiB: Int { get set }
    /// A registered argon2id class, `0..<argon2Classes`.
    subscript(argon2Class index: Int) -> Argon2ClassEntry { get set }
    /// The ticket the next admitted job gets (tickets start at 1).
    var nextTicket: UInt64 { get set }
    /// Slots go to waiting tickets in order from here.
    var grantTicket: UInt64 { get set }
    var runningCount: Int { get set }
    var queuedCount: Int { get set }
    /// GCRA's theoretical arrival time of the next paced refusal (monotonic seconds).
    var refusalTheoreticalArrival: Double { get set }

    /// Waiting jobs at `cost` (costs beyond the classes kept share them modulo ``costClasses``).
    func queuedCount(atCost cost: Int) -> Int
    mutating func setQueuedCount(_ count: Int, atCost cost: Int)
    /// Waiting jobs at `cost` of the processes in `bucket` (``processBucket(pid:)``): a batch
    /// takes one process's jobs only.
    func queuedCount(atCost cost: Int, process bucket: Int) -> Int
    mutating func setQueuedCount(_ count: Int, atCost cost: Int, process bucket: Int)
    /// The ring entry where `ticket` lives (it may hold another ticket, or none).
    subscript(job ticket: UInt64) -> QueueEntry { get set }
    /// A compute slot, `0..<maximumSlots`.
    subscript(running index: Int) -> RunningEntry { get set }
    /// Counts what happened.
    mutating func record(_ event: QueueEvent)
    /// What is learnt of batches of `lanes` jobs, `2...maximumBatch`.
    subscript(batch lanes: Int) -> BatchFactor { get set }

    // MARK: The client table (fair share)

    /// Entries in the client table, the overflow group (entry 0) included.
    var clientCapacity: Int { get }
    /// An entry of the client table, `0..<clientCapacity`.
    subscript(client index: Int) -> ClientEntry { get set }
    /// The work of every waiting and running job that has a client, in cost-0 units.
    var totalWork: UInt64 { get set }
    /// Groups with work.
    var activeGroups: Int { get set }
    /// The first entry with waiting jobs (-1: none); the others follow through `waitingNext`.
    var waitingClients: Int { get set }
    /// The recent work of the groups with work, together, as of `activeRecentAt`.
    var activeRecent: Double { get set }
    var activeRecentAt: Double { get set }
    /// Every entry's served seconds together, decaying alike, as of `servedTotalAt`.
    var servedTotal: Double { get set }
    var servedTotalAt: Double { get set }
}

extension SlotQueueStorage {
    /// Cost classes the per-cost counts keep.
    static var costClasses: Int { SharedSegment.costClasses }
    /// argon2id classes the queue keeps (job classes `0..<argon2Classes`; bcrypt's costs follow).
    static var argon2Classes: Int { SharedSegment.argon2Classes }
    /// Entries in the running table.
    static var maximumSlots: Int { SharedSegment.maximumSlots }
    /// The most jobs one slot runs together.
    static var maximumBatch: Int { SharedSegment.maximumBatch }
    /// Buckets the per-process waiting counts keep; processes whose pids share a bucket are
    /// counted together (predicted as if they could batch together, as all did before).
    static var processBuckets: Int { SharedSegment.processBuckets }

    /// The bucket of the per-process waiting counts that `pid` counts in.
    static func processBucket(pid: Int32) -> Int { Int(UInt32(bitPattern: pid) % UInt32(processBuckets)) }
}
