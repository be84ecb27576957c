import Bcrypt
import JSONWriting
import POSIXSupport

/// Running a job through the runner, and its answer: the 200 with what it made, or the 503 of a refusal.
extension PasswordService {
    /// What a job gave, with how long its request took here; a refusal is thrown as its 503.
    struct Outcome {
        var result: ExpensiveJobResult
        var seconds: Double
        /// The hash as the application stores it, when it is not the bare hash.
        var stored: String?

        var response: APIResponse {
            switch result {
            case .hashed(let hash):
                APIResponse(
                    status: 200,
                    body: JSONText.object([("hash", .string(stored ?? hash.string)), ("seconds", .double(seconds))]))
            case .hashedArgon2(let hash):
                APIResponse(
                    status: 200,
                    body: JSONText.object([("hash", .string(stored ?? hash.string)), ("seconds", .double(seconds))]))
            case .verified(let match):
                APIResponse(status: 200, body: JSONText.object([("match", .bool(match))]))
            }
        }
    }

    func run(_ job: ExpensiveJob, _ request: APIRequest, runner: some ExpensiveJobRunner) throws(APIError)
        -> Outcome
    {
        let started = MonotonicClock.now
        do throws(ExpensiveJobFailure) {
            let result = try runner.run(
                job, arrivedAt: min(request.arrivedAt ?? started, started), client: request.client)
            return Outcome(result: result, seconds: MonotonicClock.now - started)
        } catch {
            switch error {
            case .bcrypt(let bcryptError):
                throw APIError(bcryptError)
            case .overloaded(let predicted, let retryAfter, let reason):
                throw APIError(
                    overloadedResponse: Self.overloaded(
                        predictedSeconds: predicted, retryAfter: retryAfter, reason: reason))
            }
        }
    }

    /// The 503 of a refused job: why, when it would have been answered, and when to come back.
    static func overloaded(predictedSeconds predicted: Double, retryAfter: Int, reason: OverloadReason)
        -> APIResponse
    {
        let message =
            switch reason {
            case .atCapacity, .deadline, .overran: "the service is at capacity; try again in \(retryAfter) s"
            case .overShare:
                "the service is at capacity and this client has its fair share already; try again in \(retryAfter) s"
            case .displaced:
                "the service is at capacity; a client with less than its fair share took this request's place; try again in \(retryAfter) s"
            }
        let body = JSONText.object([
            ("error", .string("overloaded")),
            ("message", .string(message)),
            ("reason", .string(reason.rawValue)),
            ("predicted_seconds", .double((predicted * 1000).rounded() / 1000)),
            ("retry_after", .int(retryAfter)),
        ])
        // The reason as a header too, for nginx's access log ($upstream_http_fullyloaded_refusal).
        return APIResponse(
            status: 503,
            headers: [.init("Retry-After", String(retryAfter)), .init("Fullyloaded-Refusal", reason.rawValue)],
            body: body)
    }
}
