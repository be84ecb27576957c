import Bcrypt
import Dispatch
import POSIXSupport
import PasswordService
import Synchronization

/// Batches: the jobs that admission hands one slot together are hashed side by side by one
/// compute thread (``ExpensiveJob/performBatch(_:with:)``).
///
/// Every admitted job of this process is registered here with its ticket while it waits. The
/// first member of a batch whose request thread is woken takes every registered member and
/// queues the batch at once: no compute thread waits for the other request threads to wake,
/// which on a loaded machine can take longer than a hash. A member that was not registered yet
/// when its batch left (it was granted within its own admission) runs alone.
extension ComputePool {
    /// What a job of a batch produced.
    typealias BatchResult = Result<ExpensiveJobResult, BcryptError>

    /// One admitted job of this process: what it hashes and how its answer reaches its request thread.
    final class BatchMember: Sendable {
        let job: ExpensiveJob
        let handoff = Mutex<Handoff<BatchResult>>(.pending)
        let done = DispatchSemaphore(value: 0)
        let whenOverrunEnds: @Sendable (Double) -> Void

        init(job: ExpensiveJob, whenOverrunEnds: @escaping @Sendable (Double) -> Void) {
            self.job = job
            self.whenOverrunEnds = whenOverrunEnds
        }

        /// Hands over the result, or, when its request thread gave up at the deadline, reports
        /// the overrun's duration.
        func deliver(_ result: BatchResult, seconds: Double) {
            let abandoned = handoff.withLock { state -> Bool in
                if case .abandoned = state { return true }
                state = .done(result, seconds)
                return false
            }
            if abandoned { whenOverrunEnds(seconds) } else { done.signal() }
        }
    }

    /// The members a batch may take, and the batches that left before all their members were
    /// registered (guarded by ``batches``).
    struct BatchTable: Sendable {
        var registered: [UInt64: BatchMember] = [:]
        /// Batch head → members still to come, each of which runs alone.
        var leftBehind: [UInt64: Int] = [:]
    }

    /// Registers an admitted job of this process, so that a batch it is granted with can take it.
    func register(_ job: ExpensiveJob, ticket: UInt64, whenOverrunEnds: @escaping @Sendable (Double) -> Void)
        -> BatchMember
    {
        let member = BatchMember(job: job, whenOverrunEnds: whenOverrunEnds)
        batches.withLock { $0.registered[ticket] = member }
        return member
    }

    /// Takes back the registration of a job that leaves without a batch.
    func withdraw(ticket: UInt64) {
        _ = batches.withLock { $0.registered.removeValue(forKey: ticket) }
    }

    /// Runs `member` (admitted as `ticket`) in the batch that `head` leads, whose jobs are
    /// `tickets`, and waits for it until `deadline` (monotonic seconds).
    func run(
        _ member: BatchMember, ticket: UInt64, inBatch head: UInt64, of tickets: [UInt64], until deadline: Double
    ) -> Outcome<BatchResult> {
        let toRun = batches.withLock { table -> [BatchMember] in
            // Already taken by its batch: only its answer is awaited.
            guard table.registered.removeValue(forKey: ticket) != nil else { return [] }
            if let missing = table.leftBehind[head] {
                table.leftBehind[head] = missing > 1 ? missing - 1 : nil
                return [member]
            }
            var members = [member]
            for other in tickets where other != ticket {
                if let taken = table.registered.removeValue(forKey: other) { members.append(taken) }
            }
            if members.count < tickets.count { table.leftBehind[head] = tickets.count - members.count }
            return members
        }
        if !toRun.isEmpty {
            submit(
                PendingJob { hasher in
                    let started = MonotonicClock.now
                    let results = ExpensiveJob.performBatch(toRun.map(\.job), with: hasher)
                    let seconds = MonotonicClock.now - started
                    for (member, result) in zip(toRun, results) { member.deliver(result, seconds: seconds) }
                })
        }
        let remaining = max(0, deadline - MonotonicClock.now)
        _ = member.done.wait(timeout: .now() + .nanoseconds(Int(remaining * 1e9)))
        return member.handoff.withLock { state in
            if case .done(let result, let seconds) = state { return .finished(result, seconds: seconds) }
            state = .abandoned
            return .overran
        }
    }
}
