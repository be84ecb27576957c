import Argon2
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
    /// What a verify for an unknown user (`"hash": null`) hashes against: a hash at the policy
    /// (its algorithm, cost or parameters) that no password matches in practice. Its answer is
    /// `match: false` whatever it computes; the work is there so that the answer takes as long as
    /// a real failed verify.
    private let unknownUserHash: StoredHash.Kind

    /// Creates the service; `processID` is reported by `/api/ping` so that clients can see which
    /// worker answered.
    public init(configuration: PasswordServiceConfiguration, processID: Int32) {
        self.configuration = configuration
        self.pingBody = JSONText.object([("ok", .bool(true)), ("pid", .int(Int(processID)))])
        self.pingCGIBytes = APIResponse(status: 200, body: pingBody).cgiBytes
        switch configuration.algorithm {
        case .bcrypt:
            let cost = configuration.defaultCost
            let costDigits = cost < 10 ? "0\(cost)" : "\(cost)"
            // 22 salt characters, then 31 of checksum: the salt's and the checksum's last characters
            // are "." (no stray low bits), as bcrypt writes them.
            self.unknownUserHash = .bcrypt(
                BcryptHash(
                    parsing: "$2b$\(costDigits)$" + "unknownUserSaltFullyL." + "nothingMatchesThisChecksumXYZa.")!)
        case .argon2id:
            self.unknownUserHash = .argon2id(
                Argon2Hash(
                    parameters: configuration.argon2, salt: Array("unknown-user-salt".utf8),
                    digest: Array("nothing matches this digest.....".utf8)))
        }
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
            return try run(newHashJob(password, key: nil), request, runner: runner).response
        case .hash:
            let body = try decode(HashRequestBody.self, from: request)
            if let cost = body.cost {
                guard configuration.algorithm == .bcrypt else {
                    throw .badRequest(
                        "invalid_field",
                        "field \"cost\" applies to bcrypt; this service hashes with argon2id (\(configuration.argon2))")
                }
                try check(cost: cost)
            }
            let newest = configuration.pepper?.newest
            try check(password: body.password, wholeLength: newest != nil || configuration.algorithm == .argon2id)
            let input = try hashInput(body.password, key: newest)
            var outcome = try run(newHashJob(input, key: newest, cost: body.cost), request, runner: runner)
            outcome.stored = stored(outcome.result)
            return outcome.response
        case .verify:
            let body = try decode(VerifyRequestBody.self, from: request)
            guard let text = body.hash else {
                // An unknown user: the same work as a failed verify, the same answer.
                let newest = configuration.pepper?.newest
                try check(password: body.password, wholeLength: newest != nil || configuration.algorithm == .argon2id)
                let input = try hashInput(body.password, key: newest)
                _ = try run(verifyJob(input, against: unknownUserHash), request, runner: runner)
                return APIResponse(status: 200, body: JSONText.object([("match", .bool(false))]))
            }
            let hash = try parse(hash: text)
            let wholeLength: Bool =
                switch hash.kind {
                case .bcrypt: hash.key != nil
                case .argon2id: true
                }
            try check(password: body.password, wholeLength: wholeLength)
            let input = try hashInput(body.password, key: hash.key)
            let verified = try run(verifyJob(input, against: hash.kind), request, runner: runner)
            guard case .verified(true) = verified.result else { return verified.response }
            guard rehashReason(for: hash) != nil else {
                return APIResponse(status: 200, body: JSONText.object([("match", .bool(true)), ("rehash", .null)]))
            }
            return rehash(password: body.password, request, runner: runner)
        case .needsRehash:
            let body = try decode(NeedsRehashRequestBody.self, from: request)
            let reason = rehashReason(for: try parse(hash: body.hash))
            return APIResponse(
                status: 200,
                body: JSONText.object([
                    ("needs_rehash", .bool(reason != nil)), ("reason", reason.map(JSONText.Value.string) ?? .null),
                ]))
        }
    }

}
