import Bcrypt
import Foundation
import PasswordService
import Testing

@Suite("PasswordService")
struct PasswordServiceTests {
    let service = PasswordService(
        configuration: PasswordServiceConfiguration(defaultCost: 4, allowedCosts: 4...6, maximumBodyBytes: 256),
        processID: 42)

    func respond(
        _ method: String, _ path: String, _ body: String = "", runner: some ExpensiveJobRunner = InlineJobRunner()
    ) -> (APIResponse, [String: Any]) {
        let response = service.respond(
            to: APIRequest(
                method: method, path: path, body: Array(body.utf8),
                contentType: method == "POST" ? "application/json; charset=utf-8" : nil), runner: runner)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        return (response, json)
    }

    @Test("ping answers with the process id, without running a job")
    func ping() {
        let (response, json) = respond("GET", "/api/ping", runner: RefusingRunner())
        #expect(response.status == 200)
        #expect(json["pid"] as? Int == 42 && json["ok"] as? Bool == true)
    }

    @Test("routes: 404 for unknown paths, 405 with Allow for wrong methods")
    func routing() {
        #expect(APIRoute.match(method: "GET", path: "/api/ping") == .success(.ping))
        #expect(respond("GET", "/api/pong").0.status == 404)
        let (response, json) = respond("DELETE", "/api/hash")
        #expect(response.status == 405)
        #expect(response.headers == [.init("Allow", "POST")])
        #expect(json["error"] as? String == "method_not_allowed")
    }

    @Test("expensive routes are marked so")
    func expensive() {
        #expect(APIRoute.allCases.filter(\.isExpensive) == [.load, .hash, .verify])
    }

    @Test("hash uses the default cost unless asked, and refuses costs outside the range")
    func costs() {
        #expect((respond("POST", "/api/hash", #"{"password":"a"}"#).1["hash"] as? String)?.hasPrefix("$2b$04$") == true)
        #expect(
            (respond("POST", "/api/hash", #"{"password":"a","cost":6}"#).1["hash"] as? String)?.hasPrefix("$2b$06$")
                == true)
        #expect(
            respond("POST", "/api/hash", #"{"password":"a","cost":7}"#).1["error"] as? String == "cost_out_of_range")
    }

    @Test("a body over the limit is refused before it is parsed")
    func bodyLimit() {
        let request = APIRequest(
            method: "POST", path: "/api/hash", body: Array(repeating: 32, count: 257), bodyLength: 10_000)
        let response = service.respond(to: request, runner: InlineJobRunner())
        #expect(response.status == 413)
    }

    @Test("an overload refusal is a 503 with Retry-After, the prediction and the reason")
    func overloaded() {
        let (response, json) = respond("GET", "/api/load", runner: RefusingRunner())
        #expect(response.status == 503)
        #expect(response.headers == [.init("Retry-After", "3"), .init("Fullyloaded-Refusal", "displaced")])
        #expect(json["error"] as? String == "overloaded")
        #expect(json["retry_after"] as? Int == 3)
        #expect(json["predicted_seconds"] as? Double == 2.5)
        #expect(json["reason"] as? String == "displaced")
        #expect((json["message"] as? String)?.contains("fair share") == true)
    }

    @Test("CGI bytes carry the status line and the length")
    func cgiBytes() {
        let text = String(decoding: APIResponse(status: 404, body: Array("{}".utf8)).cgiBytes, as: UTF8.self)
        #expect(
            text
                == "Status: 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\n{}"
        )
    }

    @Test("configuration problems are named")
    func configurationProblems() {
        #expect(PasswordServiceConfiguration(defaultCost: 12, allowedCosts: 4...10).problem != nil)
        #expect(PasswordServiceConfiguration(defaultCost: 4, allowedCosts: 3...10).problem != nil)
        #expect(PasswordServiceConfiguration().problem == nil)
    }

    @Test("a POST body must be declared JSON: 415 for a form, text/plain or nothing, and nothing runs")
    func contentType() {
        for contentType in [nil, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
            let response = service.respond(
                to: APIRequest(
                    method: "POST", path: "/api/hash", body: Array(#"{"password":"a"}"#.utf8), contentType: contentType),
                runner: RefusingRunner())
            #expect(response.status == 415, "\(contentType ?? "none")")
            #expect(String(decoding: response.body, as: UTF8.self).contains("unsupported_media_type"))
        }
        let declared = service.respond(
            to: APIRequest(
                method: "POST", path: "/api/hash", body: Array(#"{"password":"a"}"#.utf8),
                contentType: "Application/JSON ; charset=UTF-8"), runner: InlineJobRunner())
        #expect(declared.status == 200)
    }

    @Test("a field given twice is 400 duplicate_field, escaped spellings included; nested keys are not confused")
    func duplicateFields() {
        for body in [
            #"{"password":"a","password":"b"}"#, #"{"password":"a","pass\u0077ord":"b"}"#,
            #"{ "cost" : 4 , "password":"a", "cost":5 }"#,
        ] {
            let (response, json) = respond("POST", "/api/hash", body, runner: RefusingRunner())
            #expect(response.status == 400 && json["error"] as? String == "duplicate_field", "\(body)")
        }
        // The same word as a value, or a string holding braces and quotes, is no duplicate key.
        let (fine, json) = respond("POST", "/api/hash", #"{"password":"password\",\"password\":{["}"#)
        #expect(fine.status == 200, "\(json)")
    }

}

/// A runner that refuses every job, as admission control does under overload.
struct RefusingRunner: ExpensiveJobRunner {
    func run(_ job: ExpensiveJob, arrivedAt: Double, client: RequestClient) throws(ExpensiveJobFailure)
        -> ExpensiveJobResult
    {
        throw .overloaded(predictedSeconds: 2.5, retryAfterSeconds: 3, reason: .displaced)
    }
}
