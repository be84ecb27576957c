import Argon2
import Bcrypt

/// One password hash a request asks for (bcrypt or argon2id); the unit that admission control queues.
public enum ExpensiveJob: Sendable, Equatable {
    case hash(password: String, cost: Int)
    case verify(password: String, hash: BcryptHash)
    /// A new argon2id hash; `keyID` is recorded in it (the pepper key the password was keyed with).
    case hashArgon2(password: String, parameters: Argon2Parameters, keyID: String?)
    case verifyArgon2(password: String, hash: Argon2Hash)

    /// The bcrypt cost, which sets a bcrypt job's work (it doubles with each step); `nil` for argon2id.
    public var bcryptCost: Int? {
        switch self {
        case .hash(_, let cost): cost
        case .verify(_, let hash): hash.cost
        case .hashArgon2, .verifyArgon2: nil
        }
    }

    /// An argon2id job's parameters, which set its work and its memory; `nil` for bcrypt.
    public var argon2Parameters: Argon2Parameters? {
        switch self {
        case .hash, .verify: nil
        case .hashArgon2(_, let parameters, _): parameters
        case .verifyArgon2(_, let hash): hash.parameters
        }
    }

    /// Runs the job on the calling thread with its hasher (bcrypt's; argon2id allocates its own memory).
    public func perform(with hasher: BcryptHasher) throws(BcryptError) -> ExpensiveJobResult {
        switch self {
        case .hash(let password, let cost): return .hashed(try hasher.hash(password: password, cost: cost))
        case .verify(let password, let hash): return .verified(try hasher.verify(password: password, against: hash))
        case .hashArgon2(let password, let parameters, let keyID):
            // This copy of the password is this function's: wiped once hashed.
            var bytes = Array(password.utf8)
            defer { bytes.wipe() }
            return .hashedArgon2(try Argon2Hasher.hash(password: bytes, parameters: parameters, keyID: keyID))
        case .verifyArgon2(let password, let hash):
            var bytes = Array(password.utf8)
            defer { bytes.wipe() }
            return .verified(try Argon2Hasher.verify(password: bytes, against: hash))
        }
    }
}

/// What a finished job produced.
public enum ExpensiveJobResult: Sendable, Equatable {
    case hashed(BcryptHash)
    case hashedArgon2(Argon2Hash)
    case verified(Bool)
}

/// Why a job was refused: the `reason` of a 503's body.
public enum OverloadReason: String, Sendable, Equatable, CaseIterable {
    /// It would not finish within N, and nothing waiting could fairly give it room.
    case atCapacity = "at_capacity"
    /// It would not finish within N, and its client already has more than its fair share.
    case overShare = "over_share"
    /// It was waiting, and a client under its fair share took its place.
    case displaced = "displaced"
    /// It waited, and could no longer have started in time to finish within N.
    case deadline = "deadline"
    /// It ran past its deadline (the machine was slower than predicted); answered at N.
    case overran = "overran"
}

/// Who sent a request, as the front saw it: what the fair share counts as one client.
public struct RequestClient: Sendable, Equatable {
    /// The peer's numeric address (nginx's `$remote_addr`).
    public var remoteAddress: String?
    /// The end user a trusted application or proxy named (nginx passes it only from trusted addresses).
    public var namedClient: String?

    /// Creates a client.
    public init(remoteAddress: String? = nil, namedClient: String? = nil) {
        self.remoteAddress = remoteAddress
        self.namedClient = namedClient
    }
}

/// Why a job was not run, or failed.
public enum ExpensiveJobFailure: Error, Sendable, Equatable {
    /// Admission control refused it: it would not have finished within the deadline.
    case overloaded(predictedSeconds: Double, retryAfterSeconds: Int, reason: OverloadReason = .atCapacity)
    /// bcrypt refused the input or failed.
    case bcrypt(BcryptError)
}

/// Runs expensive jobs: inline on the request thread, or through admission control and compute
/// slots.
public protocol ExpensiveJobRunner {
    /// Runs `job`, whose request reached the front at `arrivedAt` (monotonic seconds) from
    /// `client`, and returns its result, or throws why it was not run.
    func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult

    /// Runs `job`, which follows another of the same request (a rehash after a verify): as
    /// ``run(_:arrivedAt:client:)``, but a refusal is thrown at once, never held back by the
    /// refusal budget, so that it cannot delay the answer the first job already has.
    func runFollowUp(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
}

extension ExpensiveJobRunner {
    /// A runner that never holds refusals runs a follow-up as any job.
    public func runFollowUp(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient)
        throws(ExpensiveJobFailure) -> ExpensiveJobResult
    {
        try run(job, arrivedAt: arrivedAt, client: client)
    }
}

/// Runs jobs on the calling thread with a hasher of its own: no queue, no admission.
public final class InlineJobRunner: ExpensiveJobRunner {
    private let hasher = BcryptHasher()

    /// Creates a runner with its own bcrypt scratch area.
    public init() {}

    public func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient = RequestClient())
        throws(ExpensiveJobFailure) -> ExpensiveJobResult
    {
        do throws(BcryptError) {
            return try job.perform(with: hasher)
        } catch {
            throw .bcrypt(error)
        }
    }
}
