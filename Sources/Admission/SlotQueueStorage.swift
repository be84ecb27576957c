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
    /// A job class's recently admitted work (decaying, as of ``classRecentAt``), and when a job
    /// of it was last refused at capacity (0: never), `0..<costClasses`.
    subscript(classRecent index: Int) -> Double { get set }
    var classRecentAt: Double { get set }
    subscript(classRefusedAt index: Int) -> Double { get set }
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
