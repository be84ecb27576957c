@testable import Admission

/// The slot queue's storage in plain arrays: what the decisions are unit-tested on, with no
/// shared memory, no lock and no clock. It keeps every event it is told of.
struct ArrayQueueStorage: SlotQueueStorage {
    var slots: Int
    var jobCapacity: Int
    var unitSeconds: Double
    var estimateSamples = 0
    var argon2UnitSeconds = 1e-8
    var argon2Samples = 0
    var memoryBudgetKiB = 0
    var memoryInUseKiB = 0
    var argon2Classes = [Argon2ClassEntry](repeating: .free, count: ArrayQueueStorage.argon2Classes)
    var classRecents = [Double](repeating: 0, count: ArrayQueueStorage.costClasses)
    var classRecentAt = 0.0
    var classRefusals = [Double](repeating: 0, count: ArrayQueueStorage.costClasses)
    var nextTicket: UInt64 = 1
    var grantTicket: UInt64 = 1
    var runningCount = 0
    var queuedCount = 0
    var refusalTheoreticalArrival = 0.0
    var jobs: [QueueEntry]
    var running = [RunningEntry](repeating: .free, count: ArrayQueueStorage.maximumSlots)
    var queuedByCost = [Int](repeating: 0, count: ArrayQueueStorage.costClasses)
    var queuedByProcess = [[Int]](
        repeating: [Int](repeating: 0, count: ArrayQueueStorage.costClasses), count: ArrayQueueStorage.processBuckets)
    var events: [QueueEvent] = []
    var clients: [ClientEntry]
    var totalWork: UInt64 = 0
    var activeGroups = 0
    var waitingClients = -1
    var activeRecent = 0.0
    var activeRecentAt = 0.0
    var servedTotal = 0.0
    var servedTotalAt = 0.0
    var batches = [BatchFactor](repeating: .unlearnt, count: ArrayQueueStorage.maximumBatch + 1)

    init(
        slots: Int, jobCapacity: Int = 64, serviceSeconds: Double = 0.1, atCost cost: Int = 4,
        clientCapacity: Int = 256
    ) {
        self.slots = slots
        self.jobCapacity = jobCapacity
        self.unitSeconds = ServiceTimeEstimate(seconds: serviceSeconds, atCost: cost).unitSeconds
        self.jobs = [QueueEntry](repeating: .unused, count: jobCapacity)
        self.clients = [ClientEntry](repeating: .unused, count: clientCapacity)
        self.clients[0] = .overflow
    }

    var clientCapacity: Int { clients.count }

    subscript(classRecent index: Int) -> Double {
        get { classRecents[index % Self.costClasses] }
        set { classRecents[index % Self.costClasses] = newValue }
    }

    subscript(classRefusedAt index: Int) -> Double {
        get { classRefusals[index % Self.costClasses] }
        set { classRefusals[index % Self.costClasses] = newValue }
    }

    subscript(argon2Class index: Int) -> Argon2ClassEntry {
        get { argon2Classes[index % Self.argon2Classes] }
        set { argon2Classes[index % Self.argon2Classes] = newValue }
    }

    subscript(client index: Int) -> ClientEntry {
        get { clients[index % clients.count] }
        set { clients[index % clients.count] = newValue }
    }

    func queuedCount(atCost cost: Int) -> Int { queuedByCost[cost % Self.costClasses] }

    mutating func setQueuedCount(_ count: Int, atCost cost: Int) { queuedByCost[cost % Self.costClasses] = count }

    func queuedCount(atCost cost: Int, process bucket: Int) -> Int {
        queuedByProcess[bucket % Self.processBuckets][cost % Self.costClasses]
    }

    mutating func setQueuedCount(_ count: Int, atCost cost: Int, process bucket: Int) {
        queuedByProcess[bucket % Self.processBuckets][cost % Self.costClasses] = count
    }

    subscript(job ticket: UInt64) -> QueueEntry {
        get { jobs[Int(ticket % UInt64(jobCapacity))] }
        set { jobs[Int(ticket % UInt64(jobCapacity))] = newValue }
    }

    subscript(batch lanes: Int) -> BatchFactor {
        get { batches[lanes % batches.count] }
        set { batches[lanes % batches.count] = newValue }
    }

    subscript(running index: Int) -> RunningEntry {
        get { running[index % Self.maximumSlots] }
        set { running[index % Self.maximumSlots] = newValue }
    }

    mutating func record(_ event: QueueEvent) { events.append(event) }

    /// Jobs waiting, in ticket order.
    var waitingTickets: [UInt64] {
        jobs.filter { $0.state == .queued }.map(\.ticket).sorted()
    }

    /// Jobs holding a slot, in ticket order.
    var runningTickets: [UInt64] {
        running.map(\.ticket).filter { $0 != 0 }.sorted()
    }
}
