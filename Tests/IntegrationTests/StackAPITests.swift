// Longer than most files: one stack serves every route's cases; most lines are the table of requests and answers.
import Foundation
import POSIXSupport
import StackRunner
import StackTestSupport
import Testing

/// Every route and every error, through real nginx to real worker processes.
@Suite("API through nginx", .serialized)
final class StackAPITests {
    let stack: TestStack

    init() throws {
        stack = try TestStack(workers: 2, cost: 5, arguments: ["--max-cost", "6"])
    }

    deinit {
        _ = try? stack.stop()
    }

    @Test("a POST whose body is not declared JSON is 415, as a web page's form or text/plain would send it")
    func notDeclaredJSON() throws {
        for type in ["text/plain", "application/x-www-form-urlencoded"] {
            let response = try stack.client().request(
                "POST", "/api/hash", headers: [("Content-Type", type)], body: Array(#"{"password":"p"}"#.utf8))
            #expect(response.status == 415, "\(type)")
            #expect(response.errorCode == "unsupported_media_type", "\(type)")
        }
    }

    @Test("GET /api/ping answers from a worker")
    func ping() throws {
        let response = try stack.client().request("GET", "/api/ping")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["cache-control"] == "no-store", "API answers are never cached")
        #expect(response.json["ok"] as? Bool == true)
        let pid = try #require(response.json["pid"] as? Int)
        #expect(stack.workerProcessIDs.contains(Int32(pid)))
    }

    @Test("GET /api/load hashes a random string at the configured cost")
    func load() throws {
        let first = try stack.client().request("GET", "/api/load")
        let second = try stack.client().request("GET", "/api/load")
        #expect(first.status == 200)
        let hash = try #require(first.json["hash"] as? String)
        #expect(hash.hasPrefix("$2b$05$") && hash.utf8.count == 60)
        #expect((first.json["seconds"] as? Double ?? -1) > 0)
        #expect(hash != second.json["hash"] as? String)
    }

    @Test("POST /api/hash, then /api/verify accepts the password and refuses another")
    func hashAndVerify() throws {
        let hashed = try stack.client().request("POST", "/api/hash", body: jsonBody(["password": "s3cret", "cost": 4]))
        #expect(hashed.status == 200)
        let hash = try #require(hashed.json["hash"] as? String)
        #expect(hash.hasPrefix("$2b$04$"))

        let good = try stack.client().request(
            "POST", "/api/verify", body: jsonBody(["password": "s3cret", "hash": hash]))
        #expect(good.status == 200)
        #expect(good.json["match"] as? Bool == true)
        let bad = try stack.client().request(
            "POST", "/api/verify", body: jsonBody(["password": "s3creT", "hash": hash]))
        #expect(bad.json["match"] as? Bool == false)

        let defaultCost = try stack.client().request("POST", "/api/hash", body: jsonBody(["password": "x"]))
        #expect((defaultCost.json["hash"] as? String)?.hasPrefix("$2b$05$") == true)
    }

    @Test("verify accepts hashes made by PHP's password_hash ($2y$)")
    func verifiesPHPHashes() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/php")
        process.arguments = ["-r", #"echo password_hash("from php", PASSWORD_BCRYPT, ["cost" => 4]);"#]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let made = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(made.hasPrefix("$2y$04$"))
        let response = try stack.client().request(
            "POST", "/api/verify", body: jsonBody(["password": "from php", "hash": made]))
        #expect(response.json["match"] as? Bool == true)
    }

    struct BadRequest: CustomTestStringConvertible, Sendable {
        let name: String
        let method: String
        let path: String
        let body: String
        let status: Int
        let code: String
        var testDescription: String { name }
    }

    static let validHash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

    static let badRequests: [BadRequest] = [
        .init(
            name: "malformed JSON", method: "POST", path: "/api/hash", body: #"{"password":"#, status: 400,
            code: "invalid_json"),
        .init(
            name: "not an object", method: "POST", path: "/api/hash", body: #"["password"]"#, status: 400,
            code: "invalid_json"),
        .init(name: "empty body", method: "POST", path: "/api/hash", body: "", status: 400, code: "invalid_json"),
        .init(
            name: "missing password", method: "POST", path: "/api/hash", body: #"{"cost":5}"#, status: 400,
            code: "missing_field"),
        .init(
            name: "password not a string", method: "POST", path: "/api/hash", body: #"{"password":12}"#, status: 400,
            code: "invalid_field"),
        .init(
            name: "cost not an integer", method: "POST", path: "/api/hash", body: #"{"password":"a","cost":5.5}"#,
            status: 400, code: "invalid_field"),
        .init(
            name: "cost null", method: "POST", path: "/api/hash", body: #"{"password":"a","cost":null}"#,
            status: 400, code: "invalid_field"),
        .init(
            name: "cost as a string", method: "POST", path: "/api/hash", body: #"{"password":"a","cost":"5"}"#,
            status: 400, code: "invalid_field"),
        .init(
            name: "empty password", method: "POST", path: "/api/hash", body: #"{"password":""}"#, status: 400,
            code: "empty_password"),
        .init(
            name: "a field twice", method: "POST", path: "/api/verify",
            body: #"{"password":"a","hash":"x","password":"b"}"#, status: 400, code: "duplicate_field"),
        .init(
            name: "password of 73 bytes", method: "POST", path: "/api/hash",
            body: #"{"password":"\#(String(repeating: "a", count: 73))"}"#, status: 400, code: "password_too_long"),
        .init(
            name: "NUL in password", method: "POST", path: "/api/hash", body: #"{"password":"a\u0000b"}"#, status: 400,
            code: "password_contains_nul"),
        .init(
            name: "cost below range", method: "POST", path: "/api/hash", body: #"{"password":"a","cost":3}"#,
            status: 400, code: "cost_out_of_range"),
        .init(
            name: "cost above --max-cost", method: "POST", path: "/api/hash", body: #"{"password":"a","cost":7}"#,
            status: 400, code: "cost_out_of_range"),
        .init(
            name: "huge cost", method: "POST", path: "/api/hash",
            body: #"{"password":"a","cost":99999999999999999999}"#, status: 400, code: "invalid_field"),
        .init(
            name: "malformed hash", method: "POST", path: "/api/verify",
            body: #"{"password":"a","hash":"$2b$05$short"}"#, status: 400, code: "malformed_hash"),
        .init(
            name: "hash with a cost above the limit", method: "POST", path: "/api/verify",
            body: #"{"password":"a","hash":"$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"}"#,
            status: 400,
            code: "cost_out_of_range"),
        .init(
            name: "verify without hash", method: "POST", path: "/api/verify", body: #"{"password":"a"}"#, status: 400,
            code: "missing_field"),
        .init(
            name: "deeply nested JSON", method: "POST", path: "/api/hash", body: String(repeating: "[", count: 3000),
            status: 400, code: "invalid_json"),
        .init(name: "unknown route", method: "GET", path: "/api/nothing", body: "", status: 404, code: "not_found"),
        .init(name: "GET on hash", method: "GET", path: "/api/hash", body: "", status: 405, code: "method_not_allowed"),
        .init(
            name: "POST on ping", method: "POST", path: "/api/ping", body: "{}", status: 405, code: "method_not_allowed"
        ),
        .init(
            name: "body over the worker's 4 KiB", method: "POST", path: "/api/hash",
            body: #"{"password":"a","pad":"\#(String(repeating: "x", count: 5000))"}"#, status: 413,
            code: "body_too_large"),
        .init(
            name: "body over nginx's 16 KiB", method: "POST", path: "/api/hash",
            body: #"{"password":"a","pad":"\#(String(repeating: "x", count: 20000))"}"#, status: 413,
            code: "body_too_large"),
    ]

    @Test("bad input gets a JSON error with the right status", arguments: badRequests)
    func badInput(_ bad: BadRequest) throws {
        let response = try stack.client().request(bad.method, bad.path, body: Array(bad.body.utf8))
        #expect(response.status == bad.status, "\(response.text)")
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.errorCode == bad.code, "\(response.text)")
        #expect(response.json["message"] is String)
    }

    @Test("after every bad input the same workers still answer")
    func badInputCrashesNothing() throws {
        let before = Set(stack.workerProcessIDs)
        for bad in Self.badRequests {
            _ = try stack.client().request(bad.method, bad.path, body: Array(bad.body.utf8))
        }
        #expect(Set(stack.workerProcessIDs) == before)
        #expect(before.count == 2)
        #expect(try stack.client().request("GET", "/api/ping").status == 200)
    }

    @Test("405 names the allowed methods")
    func allowHeader() throws {
        let response = try stack.client().request("GET", "/api/verify")
        #expect(response.headers["allow"] == "POST")
    }

    @Test("the page is served by nginx as a static file")
    func staticPage() throws {
        let response = try stack.client().request("GET", "/")
        #expect(response.status == 200)
        #expect(response.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(response.text.contains("fullyloaded"))
    }
}
