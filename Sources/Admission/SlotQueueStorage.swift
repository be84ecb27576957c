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

    /// An entry nobody has used.
    static let unused = QueueEntry(
        state: .free, pid: 0, cost: 0, ticket: 0, arrivedAt: 0, admittedAt: 0, startedAt: 0, runningSlot: 0,
        granted: false)
}

/// One compute slot: the job holding it, or `ticket == 0` when it is free.
struct RunningEntry: Equatable, Sendable {
    var ticket: UInt64
    var cost: Int
    var pid: Int32
    var startedAt: Double

    /// A slot nobody holds.
    static let free = RunningEntry(ticket: 0, cost: 0, pid: 0, startedAt: 0)
}

/// What a decision did, for the counters, histograms and the worker table; decisions never read
/// these back, so a storage may record them however it likes.
enum QueueEvent: Equatable, Sendable {
    /// A job entered the queue.
    case admitted
    /// Refused as it arrived; `late` when only the time it had already waited made it miss N,
    /// `paced` when the refusal budget holds its answer back.
    case refusedAtOnce(pid: Int32, late: Bool, paced: Bool)
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
    /// The ring entry where `ticket` lives (it may hold another ticket, or none).
    subscript(job ticket: UInt64) -> QueueEntry { get set }
    /// A compute slot, `0..<maximumSlots`.
    subscript(running index: Int) -> RunningEntry { get set }
    /// Counts what happened.
    mutating func record(_ event: QueueEvent)
}

extension SlotQueueStorage {
    /// Cost classes the per-cost counts keep.
    static var costClasses: Int { SharedSegment.costClasses }
    /// Entries in the running table.
    static var maximumSlots: Int { SharedSegment.maximumSlots }
}
