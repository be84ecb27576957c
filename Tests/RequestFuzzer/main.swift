// A coverage-guided fuzz target (libFuzzer) for what a request reaches before any bcrypt runs:
// routing, the content type, the duplicate-key scan, JSON decoding and every check, and the
// arrival-time parameter. Built only by `Deploy/dev.sh fuzz` (-sanitize=fuzzer -DFUZZING).
//
// Input: byte 0 picks the route and method (modulo the routes' count), byte 1 the Content-Type, bytes 2…9 the arrival
// parameter's text; the rest is the body. Any crash, trap or broken invariant stops the run with
// the input saved as crash-<sha1>.
import Argon2
import Bcrypt
import Foundation
import FuzzingSupport
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

enum RequestFuzzer {
    static let routes: [(method: String, path: String)] = [
        ("POST", "/api/hash"), ("POST", "/api/verify"), ("GET", "/api/ping"), ("GET", "/api/stats"),
        ("GET", "/api/load"), ("PUT", "/api/hash"), ("GET", "/api/nothing"), ("HEAD", "/api/ping"),
        ("POST", "/api/needs-rehash"),
    ]
    static let contentTypes: [String?] = [
        "application/json", "application/json; charset=utf-8", " Application/JSON ", nil, "text/plain",
        "application/x-www-form-urlencoded", "application/jsonx", "",
    ]
    // Cost 4 only, and argon2id within 64 KiB and 2 passes: a hash that passes every check is
    // really computed, so keep it under a millisecond.
    static let service = PasswordService(
        configuration: PasswordServiceConfiguration(
            defaultCost: 4, allowedCosts: 4...4, maximumBodyBytes: 4096,
            argon2: Argon2Parameters(memoryKiB: 64, passes: 1, lanes: 1),
            argon2Limits: Argon2Limits(maximumMemoryKiB: 64, maximumPasses: 2, maximumLanes: 4)),
        processID: 1)
    // libFuzzer calls the target from one thread only; the runner's bcrypt scratch is never shared.
    nonisolated(unsafe) static let runner = InlineJobRunner()
    static let statuses: Set<Int> = [200, 400, 404, 405, 413, 415]

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = Array(input)
        let route = routes[Int(bytes.first ?? 0) % routes.count]
        let contentType = contentTypes[Int(bytes.count > 1 ? bytes[1] : 0) % contentTypes.count]
        let arrival = bytes.count > 2 ? String(decoding: bytes[2..<min(10, bytes.count)], as: UTF8.self) : nil
        let body = bytes.count > 10 ? Array(bytes[10...]) : []
        let request = APIRequest(
            method: route.method, path: route.path, body: body,
            arrivedAt: ArrivalTime.monotonic(fromWallClock: arrival), contentType: contentType)
        let response = service.respond(to: request, runner: runner)

        // Every answer is one of the documented statuses, with a JSON object for a body.
        check(statuses.contains(response.status), "status \(response.status)", body)
        let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        check(object != nil, "answer is not a JSON object: \(String(decoding: response.body, as: UTF8.self))", body)
        guard let object else { return }
        if response.status == 200 {
            if route.path == "/api/hash" {
                let hash = object["hash"] as? String
                check(hash.flatMap(BcryptHash.init(parsing:))?.cost == 4, "hash \(String(describing: hash))", body)
            }
            // A rehash is only ever offered with a match, and is a hash at the policy.
            if route.path == "/api/verify", let rehash = object["rehash"] as? String {
                check(object["match"] as? Bool == true, "a rehash without a match", body)
                check(
                    BcryptHash(parsing: rehash).map { $0.cost == 4 && $0.variant == .b } == true, "rehash \(rehash)",
                    body)
            }
        } else {
            check(object["error"] is String && object["message"] is String, "error without code or message", body)
        }
        // A refused body never reaches bcrypt: only a well-formed request may be answered 200.
        if response.status == 200, route.method == "POST" {
            check(contentType.map { $0.lowercased().contains("application/json") } == true, "200 without JSON", body)
        }
    }

    static func check(_ condition: Bool, _ what: String, _ body: [UInt8]) {
        if !condition { FuzzTarget.fail(what) }
    }
}

FuzzTarget.run(named: "RequestFuzzer", RequestFuzzer.run)
