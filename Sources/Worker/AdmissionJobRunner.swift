import Admission
import Bcrypt
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

/// Runs expensive jobs under the N-second promise: admission at arrival, a compute slot in
/// arrival order, refusal at the deadline, and bcrypt on a low-priority compute thread.
struct AdmissionJobRunner: ExpensiveJobRunner {
    let controller: AdmissionController
    let pool: ComputePool
    let refusals: RefusalLog

    func run(_ job: ExpensiveJob) -> Result<ExpensiveJobResult, ExpensiveJobFailure> {
        let ticket: AdmissionController.Ticket
        switch controller.admit(cost: job.cost) {
        case .refused(let prediction, let retryAfter, let answerAt):
            refusals.record(.predicted, predictedSeconds: prediction.completesIn, deadline: controller.policy.deadline)
            let hold = answerAt - MonotonicClock.now
            if hold > 0 { usleep(UInt32(hold * 1_000_000)) }
            return .failure(.overloaded(predictedSeconds: prediction.completesIn, retryAfterSeconds: retryAfter))
        case .admitted(let admitted):
            ticket = admitted
        }
        if case .refusedAtDeadline(let retryAfter) = controller.waitForSlot(ticket) {
            refusals.record(
                .atDeadline, predictedSeconds: ticket.prediction.completesIn, deadline: controller.policy.deadline)
            return .failure(.overloaded(predictedSeconds: ticket.prediction.completesIn, retryAfterSeconds: retryAfter))
        }
        let outcome = pool.run(until: ticket.admittedAt + controller.policy.answerBy) {
            hasher -> Result<ExpensiveJobResult, BcryptError> in
            do throws(BcryptError) {
                return .success(try job.perform(with: hasher))
            } catch {
                return .failure(error)
            }
        } whenOverrunEnds: { [controller] seconds in
            controller.finish(ticket, serviceSeconds: seconds, outcome: .overran)
        }
        switch outcome {
        case .finished(.success(let value), let seconds):
            controller.finish(ticket, serviceSeconds: seconds, outcome: .delivered)
            return .success(value)
        case .finished(.failure(let error), let seconds):
            controller.finish(ticket, serviceSeconds: seconds, outcome: .failed)
            return .failure(.bcrypt(error))
        case .overran:
            // The machine was slower than predicted: answer at N, as promised, not later.
            refusals.record(
                .overran, predictedSeconds: ticket.prediction.completesIn, deadline: controller.policy.deadline)
            return .failure(.overloaded(predictedSeconds: ticket.prediction.completesIn, retryAfterSeconds: 1))
        }
    }
}
