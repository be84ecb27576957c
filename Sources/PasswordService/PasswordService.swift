import Bcrypt
import Foundation
import JSONWriting
import POSIXSupport

/// The password API: turns a request into a response, running bcrypt through a job runner.
///
/// Pure apart from the runner: the FastCGI worker, the tests and the benchmarks all call this.
public struct PasswordService: Sendable {
    /// Limits and defaults.
    public let configuration: PasswordServiceConfiguration
    private let pingBody: [UInt8]
    private let pingCGIBytes: [UInt8]

    /// Creates the service; `processID` is reported by `/api/ping` so that clients can see which
    /// worker answered.
    public init(configuration: PasswordServiceConfiguration, processID: Int32) {
        self.configuration = configuration
        self.pingBody = JSONText.object([("ok", .bool(true)), ("pid", .int(Int(processID)))])
        self.pingCGIBytes = APIResponse(status: 200, body: pingBody).cgiBytes
    }

    /// Whether a request is the cheap ping, answered from ``pingCGIBytes`` without reading a body.
    public static func isPing(method: String, path: String, contentLength: String?) -> Bool {
        path == APIRoute.ping.rawValue && (method == "GET" || method == "HEAD")
            && (contentLength == nil || contentLength == "" || contentLength == "0")
    }

    /// The whole CGI response to a ping, made once: the cheap route allocates nothing per request.
    public var pingResponseBytes: [UInt8] { pingCGIBytes }

    /// The response to a cheap route, computed without touching any queue.
    var pingResponse: APIResponse { APIResponse(status: 200, body: pingBody) }

    /// Answers `request`.
    ///
    /// - Parameters:
    ///   - stats: the body of `/api/stats`, supplied by whoever owns the shared state.
    public func respond(
        to request: APIRequest,
        runner: some ExpensiveJobRunner,
        stats: () -> [UInt8] = { Array("{}".utf8) }
    ) -> APIResponse {
        switch APIRoute.match(method: request.method, path: request.path) {
        case .failure(let error):
            return error.response
        case .success(let route):
            do throws(APIError) {
                return try respond(route: route, request: request, runner: runner, stats: stats)
            } catch {
                return error.response
            }
        }
    }

    private func respond(
        route: APIRoute, request: APIRequest, runner: some ExpensiveJobRunner, stats: () -> [UInt8]
    ) throws(APIError) -> APIResponse {
        if request.bodyLength > configuration.maximumBodyBytes {
            throw APIError(
                status: 413, code: "body_too_large",
                message: "request body is \(request.bodyLength) bytes; the limit is \(configuration.maximumBodyBytes)")
        }
        switch route {
        case .ping:
            return pingResponse
        case .stats:
            return APIResponse(status: 200, body: stats())
        case .load:
            let password: String
            do throws(BcryptError) {
                password = try SecureRandom.hexString(bytes: 16)
            } catch {
                throw APIError(error)
            }
            return try run(.hash(password: password, cost: configuration.defaultCost), request, runner: runner)
        case .hash:
            let body = try decode(HashRequestBody.self, from: request)
            let cost = body.cost ?? configuration.defaultCost
            try check(password: body.password)
            try check(cost: cost)
            return try run(.hash(password: body.password, cost: cost), request, runner: runner)
        case .verify:
            let body = try decode(VerifyRequestBody.self, from: request)
            try check(password: body.password)
            guard let hash = BcryptHash(parsing: body.hash) else { throw APIError(BcryptError.malformedHash) }
            // A hash's cost sets the work: a crafted `$2b$31$` hash would hold a core for days.
            try check(cost: hash.cost)
            return try run(.verify(password: body.password, hash: hash), request, runner: runner)
        }
    }

    private func run(_ job: ExpensiveJob, _ request: APIRequest, runner: some ExpensiveJobRunner) throws(APIError)
        -> APIResponse
    {
        let started = MonotonicClock.now
        let result: ExpensiveJobResult
        do throws(ExpensiveJobFailure) {
            result = try runner.run(job, arrivedAt: min(request.arrivedAt ?? started, started), client: request.client)
        } catch {
            switch error {
            case .bcrypt(let bcryptError):
                throw APIError(bcryptError)
            case .overloaded(let predicted, let retryAfter, let reason):
                return Self.overloaded(predictedSeconds: predicted, retryAfter: retryAfter, reason: reason)
            }
        }
        switch result {
        case .hashed(let hash):
            let seconds = MonotonicClock.now - started
            return APIResponse(
                status: 200, body: JSONText.object([("hash", .string(hash.string)), ("seconds", .double(seconds))]))
        case .verified(let match):
            return APIResponse(status: 200, body: JSONText.object([("match", .bool(match))]))
        }
    }

    /// The 503 of a refused job: why, when it would have been answered, and when to come back.
    private static func overloaded(predictedSeconds predicted: Double, retryAfter: Int, reason: OverloadReason)
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

    private func check(password: String) throws(APIError) {
        guard !password.isEmpty else { throw .badRequest("empty_password", "password must not be empty") }
        do throws(BcryptError) {
            try BcryptHasher.validate(password: password)
        } catch {
            throw APIError(error)
        }
    }

    private func check(cost: Int) throws(APIError) {
        guard configuration.allowedCosts.contains(cost) else {
            throw APIError(BcryptError.costOutOfRange(cost: cost, allowed: configuration.allowedCosts))
        }
    }

    private func decode<Body: Decodable>(_ type: Body.Type, from request: APIRequest) throws(APIError) -> Body {
        // A JSON body must say so: a form or text/plain POST (what any web page can make a
        // visitor's browser send, without asking) is no API call.
        guard request.declaresJSON else {
            throw APIError(
                status: 415, code: "unsupported_media_type", message: "the body must be sent as application/json")
        }
        if let key = JSONObjectKeys.firstDuplicate(in: request.body) {
            throw .badRequest("duplicate_field", "field \"\(key)\" is given more than once")
        }
        // The decoder's copy of the body holds the password too: wiped once decoded.
        var data = Data(request.body)
        defer { data.withUnsafeMutableBytes { SecretMemory.wipe($0) } }
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw .badRequest("missing_field", "field \"\(key.stringValue)\" is required")
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" has the wrong type")
        } catch DecodingError.valueNotFound(_, let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" must not be null")
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" \(context.debugDescription)")
        } catch DecodingError.typeMismatch(_, _) {
            throw .badRequest("invalid_json", "request body must be a JSON object")
        } catch {
            throw .badRequest("invalid_json", "request body is not valid JSON")
        }
    }

    private static func name(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}

struct HashRequestBody: Decodable {
    var password: String
    var cost: Int?

    enum CodingKeys: String, CodingKey {
        case password, cost
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        password = try container.decode(String.self, forKey: .password)
        // Foundation reports 5.5 or 1e30 for an Int as "not valid JSON"; read a Double and say what is wrong.
        // Left out means the default; `null` is a wrong value, not a way to say "default".
        if container.contains(.cost) {
            let number = try container.decode(Double.self, forKey: .cost)
            guard number.rounded() == number, abs(number) < 1_000_000 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .cost, in: container, debugDescription: "must be a whole number within bcrypt's range")
            }
            cost = Int(number)
        }
    }
}

struct VerifyRequestBody: Decodable {
    var password: String
    var hash: String
}
