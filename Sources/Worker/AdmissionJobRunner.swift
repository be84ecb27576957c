import Admission
import Bcrypt
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

/// Runs expensive jobs under the N-second promise: admission at arrival, a compute slot in
/// arrival order, refusal at the deadline, and bcrypt on a low-priority compute thread.
/// N counts from when the request reached nginx, so time spent in a socket's queue or on
/// another host counts too.
struct AdmissionJobRunner: ExpensiveJobRunner {
    let controller: AdmissionController
    let pool: ComputePool
    let refusals: RefusalLog
    let gate: ExpensiveRequestGate

    func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        try run(job, arrivedAt: arrivedAt, client: client, mayHold: true)
    }

    func runFollowUp(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        try run(job, arrivedAt: arrivedAt, client: client, mayHold: false)
    }

    private func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient, mayHold: Bool)
        throws(ExpensiveJobFailure) -> ExpensiveJobResult
    {
        guard gate.enter() else {
            // Every request thread this worker lets expensive requests have is taken: refuse
            // now rather than take one that a ping needs.
            guard case .refused(let prediction, let retryAfter, _, _) = controller.refuseAtOnce(job.jobClass) else {
                throw .overloaded(predictedSeconds: 0, retryAfterSeconds: 1)
            }
            refusals.record(.predicted, predictedSeconds: prediction.completesIn, deadline: controller.policy.deadline)
            throw .overloaded(predictedSeconds: prediction.completesIn, retryAfterSeconds: retryAfter)
        }
        defer { gate.leave() }
        let ticket: AdmissionController.Ticket
        let key = ClientKey(remoteAddress: client.remoteAddress, namedClient: client.namedClient)
        switch controller.admit(job.jobClass, arrival: arrivedAt, mayHold: mayHold && gate.mayHold, client: key) {
        case .refused(let prediction, let retryAfter, let answerAt, let reason):
            refusals.record(.predicted, predictedSeconds: prediction.completesIn, deadline: controller.policy.deadline)
            let hold = answerAt - MonotonicClock.now
            if mayHold, hold > 0, gate.startHolding() {
                usleep(UInt32(hold * 1_000_000))
                gate.stopHolding()
            }
            throw .overloaded(
                predictedSeconds: prediction.completesIn, retryAfterSeconds: retryAfter,
                reason: reason == .overShare ? .overShare : .atCapacity)
        case .admitted(let admitted):
            ticket = admitted
        }
        let whenOverrunEnds: @Sendable (Double) -> Void = { [controller] seconds in
            controller.finish(ticket, serviceSeconds: seconds, outcome: .overran)
        }
        // Registered while it waits, so that the batch it may be granted with takes it at once.
        let member =
            controller.policy.lanes > 1
            ? pool.register(job, ticket: ticket.number, whenOverrunEnds: whenOverrunEnds) : nil
        let slot = controller.waitForSlot(ticket)
        if slot != .granted, member != nil { pool.withdraw(ticket: ticket.number) }
        switch slot {
        case .granted:
            break
        case .refusedAtDeadline(let retryAfter):
            refusals.record(
                .atDeadline, predictedSeconds: ticket.prediction.completesIn, deadline: controller.policy.deadline)
            throw .overloaded(
                predictedSeconds: ticket.prediction.completesIn, retryAfterSeconds: retryAfter, reason: .deadline)
        case .displaced(let retryAfter):
            refusals.record(
                .displaced, predictedSeconds: ticket.prediction.completesIn, deadline: controller.policy.deadline)
            throw .overloaded(
                predictedSeconds: ticket.prediction.completesIn, retryAfterSeconds: retryAfter, reason: .displaced)
        }
        let answerBy = ticket.arrivedAt + controller.policy.answerBy
        let batch = member.map { _ in controller.batch(of: ticket) }
        let outcome: ComputePool.Outcome<Result<ExpensiveJobResult, BcryptError>>
        if let member, let batch, batch.tickets.count > 1 {
            outcome = pool.run(member, ticket: ticket.number, inBatch: batch.head, of: batch.tickets, until: answerBy)
        } else {
            if member != nil { pool.withdraw(ticket: ticket.number) }
            outcome = pool.run(
                until: answerBy,
                { hasher -> Result<ExpensiveJobResult, BcryptError> in
                    do throws(BcryptError) {
                        return .success(try job.perform(with: hasher))
                    } catch {
                        return .failure(error)
                    }
                }, whenOverrunEnds: whenOverrunEnds)
        }
        switch outcome {
        case .finished(.success(let value), let seconds):
            controller.finish(ticket, serviceSeconds: seconds, outcome: .delivered)
            return value
        case .finished(.failure(let error), let seconds):
            controller.finish(ticket, serviceSeconds: seconds, outcome: .failed)
            throw .bcrypt(error)
        case .overran:
            // The machine was slower than predicted: answer at N, as promised, not later.
            refusals.record(
                .overran, predictedSeconds: ticket.prediction.completesIn, deadline: controller.policy.deadline)
            throw .overloaded(predictedSeconds: ticket.prediction.completesIn, retryAfterSeconds: 1, reason: .overran)
        }
    }
}
