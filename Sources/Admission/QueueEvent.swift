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
