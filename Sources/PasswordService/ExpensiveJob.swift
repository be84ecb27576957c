import Bcrypt

/// One bcrypt computation a request asks for; the unit that admission control queues.
public enum ExpensiveJob: Sendable, Equatable {
    case hash(password: String, cost: Int)
    case verify(password: String, hash: BcryptHash)

    /// The bcrypt cost, which sets the work: it doubles with each step.
    public var cost: Int {
        switch self {
        case .hash(_, let cost): cost
        case .verify(_, let hash): hash.cost
        }
    }

    /// Runs the job on the calling thread with its hasher.
    public func perform(with hasher: BcryptHasher) throws(BcryptError) -> ExpensiveJobResult {
        switch self {
        case .hash(let password, let cost): .hashed(try hasher.hash(password: password, cost: cost))
        case .verify(let password, let hash): .verified(try hasher.verify(password: password, against: hash))
        }
    }
}

/// What a finished job produced.
public enum ExpensiveJobResult: Sendable, Equatable {
    case hashed(BcryptHash)
    case verified(Bool)
}

/// Why a job was not run, or failed.
public enum ExpensiveJobFailure: Error, Sendable, Equatable {
    /// Admission control refused it: it would not have finished within the deadline.
    case overloaded(predictedSeconds: Double, retryAfterSeconds: Int)
    /// bcrypt refused the input or failed.
    case bcrypt(BcryptError)
}

/// Runs expensive jobs: inline on the request thread, or through admission control and compute
/// slots.
public protocol ExpensiveJobRunner {
    /// Runs `job`, whose request reached the front at `arrivedAt` (monotonic seconds), and
    /// returns its result, or throws why it was not run.
    func run(_ job: ExpensiveJob, arrivedAt: Double) throws(ExpensiveJobFailure) -> ExpensiveJobResult
}

/// Runs jobs on the calling thread with a hasher of its own: no queue, no admission.
public final class InlineJobRunner: ExpensiveJobRunner {
    private let hasher = BcryptHasher()

    /// Creates a runner with its own bcrypt scratch area.
    public init() {}

    public func run(_ job: ExpensiveJob, arrivedAt: Double) throws(ExpensiveJobFailure) -> ExpensiveJobResult {
        do throws(BcryptError) {
            return try job.perform(with: hasher)
        } catch {
            throw .bcrypt(error)
        }
    }
}
