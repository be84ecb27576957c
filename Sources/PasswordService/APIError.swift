import Bcrypt
import JSONWriting
import POSIXSupport

/// A request the service refuses, with the status and the machine-readable code clients see.
public struct APIError: Error, Equatable, Sendable {
    /// The HTTP status code.
    public var status: Int
    /// A stable code, e.g. `password_too_long`.
    public var code: String
    /// A sentence for people.
    public var message: String
    /// Extra headers (e.g. `Allow`, `Retry-After`).
    public var headers: [APIResponse.Header] = []
    /// A body with more than the code and the message (a refusal's prediction), or `nil`.
    var fullBody: [UInt8]?

    /// Creates an error.
    public init(status: Int, code: String, message: String, headers: [APIResponse.Header] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    /// The JSON response `{"error": code, "message": message}`.
    public var response: APIResponse {
        APIResponse(
            status: status, headers: headers,
            body: fullBody ?? JSONText.object([("error", .string(code)), ("message", .string(message))]))
    }

    /// A refusal for load, thrown as an error so that a request of two jobs stops at the first.
    init(overloadedResponse response: APIResponse) {
        self.init(status: response.status, code: "overloaded", message: "", headers: response.headers)
        fullBody = response.body
    }

    static func badRequest(_ code: String, _ message: String) -> APIError {
        APIError(status: 400, code: code, message: message)
    }

    /// Maps bcrypt's refusals to client errors, and its internal failures to a 500.
    init(_ error: BcryptError) {
        switch error {
        case .passwordTooLong(let count):
            self = .badRequest(
                "password_too_long",
                "password is \(count) bytes; bcrypt reads at most \(BcryptHasher.maximumPasswordBytes)")
        case .passwordContainsNUL:
            self = .badRequest("password_contains_nul", "password must not contain a NUL character")
        case .costOutOfRange(let cost, let allowed):
            self = .badRequest(
                "cost_out_of_range", "cost \(cost) is outside the allowed \(allowed.lowerBound)...\(allowed.upperBound)"
            )
        case .malformedHash:
            self = .badRequest("malformed_hash", "hash is not a $2a$, $2b$ or $2y$ bcrypt hash")
        case .randomSourceFailed, .hashingFailed:
            self = APIError(status: 500, code: "internal_error", message: "hashing failed")
        }
    }
}
