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
