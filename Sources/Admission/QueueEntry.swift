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
