import Admission
import Bcrypt
import POSIXSupport
import PasswordService

/// The `sync` and `coarse` rounds: bcrypt on the request thread, no queue and no admission;
/// each job is counted in the segment for the dashboard.
struct InlineAccountedJobRunner: ExpensiveJobRunner {
    let controller: AdmissionController
    private let inline = InlineJobRunner()

    init(controller: AdmissionController) {
        self.controller = controller
    }

    func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        let started = MonotonicClock.now
        var delivered = false
        // Its wait was in the socket's queue, before this process saw it: nginx's time shows it.
        defer {
            controller.recordUnadmitted(
                waitSeconds: started - arrivedAt, serviceSeconds: MonotonicClock.now - started, delivered: delivered)
        }
        let result = try inline.run(job, arrivedAt: arrivedAt, client: client)
        delivered = true
        return result
    }
}

/// The `async` round: bcrypt handed to a pool of compute threads at normal priority, in
/// arrival order, with no admission: the request threads stay free, and the queue grows
/// without bound under overload.
struct BackgroundJobRunner: ExpensiveJobRunner {
    let controller: AdmissionController
    let pool: ComputePool

    func run(_ job: ExpensiveJob, arrivedAt arrived: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        // No deadline: a day stands for "until it is done".
        let outcome = pool.run(until: arrived + 86_400) { hasher -> (Result<ExpensiveJobResult, BcryptError>, Double) in
            let started = MonotonicClock.now
            do throws(BcryptError) {
                return (.success(try job.perform(with: hasher)), started)
            } catch {
                return (.failure(error), started)
            }
        } whenOverrunEnds: { _ in
        }
        switch outcome {
        case .finished((let result, let started), let seconds):
            controller.recordUnadmitted(
                waitSeconds: started - arrived, serviceSeconds: seconds, delivered: (try? result.get()) != nil)
            do throws(BcryptError) {
                return try result.get()
            } catch {
                throw .bcrypt(error)
            }
        case .overran:
            throw .overloaded(predictedSeconds: 86_400, retryAfterSeconds: 1, reason: .overran)
        }
    }
}
