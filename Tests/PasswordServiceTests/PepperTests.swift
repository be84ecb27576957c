import Bcrypt
import Foundation
import PasswordService
import Testing

/// The pepper: its file's format, the envelope, and hash, verify and rehash with rotating keys.
@Suite("Pepper")
struct PepperTests {
    static let first = "k1:" + Data(repeating: 1, count: 32).base64EncodedString()
    static let second = "k2:" + Data(repeating: 2, count: 32).base64EncodedString()

    static func service(_ lines: [String]?) throws -> PasswordService {
        PasswordService(
            configuration: PasswordServiceConfiguration(
                defaultCost: 4, allowedCosts: 4...5,
                pepper: try lines.map { try Pepper(parsing: $0.joined(separator: "\n")) }),
            processID: 1)
    }

    static func post(_ service: PasswordService, _ path: String, _ object: [String: Any]) -> (Int, [String: Any]) {
        let body = try! JSONSerialization.data(withJSONObject: object)
        let response = service.respond(
            to: APIRequest(method: "POST", path: path, body: Array(body), contentType: "application/json"),
            runner: InlineJobRunner())
        return (
            response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        )
    }

    @Test("the file: id:base64 lines, comments and blank lines skipped, the last newest; every mistake named")
    func parsing() throws {
        let pepper = try Pepper(parsing: "# rotated 2026-12\n\n\(Self.first)\n  \(Self.second)  \n")
        #expect(pepper.keys.map(\.id) == ["k1", "k2"] && pepper.newest.id == "k2")
        let short = "k3:" + Data(repeating: 3, count: 31).base64EncodedString()
        for (text, problem) in [
            ("", "no key"), ("# only\n", "no key"), (short, "at least 32 bytes"), ("k1 " + Self.first, "line 1"),
            ("bad id:" + Self.first.dropFirst(3), "line 1"), ("k1:not base64!", "line 1"),
            (Self.first + "\n" + Self.first, "given twice"),
        ] {
            #expect(throws: Pepper.Problem.self, "\(text)") { try Pepper(parsing: text) }
            do {
                _ = try Pepper(parsing: text)
            } catch {
                #expect(error.description.contains(problem), "\(text): \(error)")
            }
        }
    }

    @Test("the envelope round-trips, and only a well-formed one parses")
    func envelope() throws {
        let hash = try BcryptHasher().hash(password: "x", cost: 4)
        let envelope = PepperedHash(keyID: "k-2_b", hash: hash)
        #expect(envelope.string == "$pepper$k-2_b" + hash.string)
        #expect(PepperedHash(parsing: envelope.string) == envelope)
        for text in [hash.string, "$pepper$" + hash.string, "$pepper$k!" + hash.string, "$pepper$k1$2b$04$short"] {
            #expect(PepperedHash(parsing: text) == nil, "\(text)")
        }
    }

    @Test("with a pepper, hash answers the envelope of bcrypt over the HMAC, and verify takes it")
    func hashAndVerify() throws {
        let service = try Self.service([Self.first])
        let (status, json) = Self.post(service, "/api/hash", ["password": "correct horse"])
        let text = try #require(json["hash"] as? String, "\(status) \(json)")
        let envelope = try #require(PepperedHash(parsing: text))
        #expect(envelope.keyID == "k1")
        // bcrypt saw the HMAC, not the password.
        let key = try #require(try Pepper(parsing: Self.first).key(id: "k1"))
        let input = try Pepper.peppered("correct horse", with: key)
        let matchesInput = try BcryptHasher().verify(password: input, against: envelope.hash)
        let matchesPassword = try BcryptHasher().verify(password: "correct horse", against: envelope.hash)
        #expect(input.utf8.count == 44 && matchesInput && !matchesPassword)
        #expect(
            Self.post(service, "/api/verify", ["password": "correct horse", "hash": text]).1["match"] as? Bool == true)
        #expect(
            Self.post(service, "/api/verify", ["password": "correct horsE", "hash": text]).1["match"] as? Bool == false)
        // The bcrypt inside, given bare, is another hash: the password alone does not match it.
        #expect(
            Self.post(service, "/api/verify", ["password": "correct horse", "hash": envelope.hash.string]).1["match"]
                as? Bool == false)
    }

    @Test(
        "rotation: an old key verifies and rehashes under the newest; a bare hash is rehashed with the pepper; a missing key is a clear error"
    )
    func rotation() throws {
        let old = try #require(
            Self.post(try Self.service([Self.first]), "/api/hash", ["password": "pw"]).1["hash"] as? String)
        let rotated = try Self.service([Self.first, Self.second])
        let (status, json) = Self.post(rotated, "/api/verify", ["password": "pw", "hash": old])
        #expect(status == 200 && json["match"] as? Bool == true, "\(json)")
        let rehash = try #require(json["rehash"] as? String, "\(json)")
        #expect(PepperedHash(parsing: rehash)?.keyID == "k2")
        #expect(Self.post(rotated, "/api/verify", ["password": "pw", "hash": rehash]).1["rehash"] is NSNull)
        let reason = Self.post(rotated, "/api/needs-rehash", ["hash": old]).1["reason"] as? String
        #expect(reason?.contains("pepper key k1; the newest is k2") == true, "\(reason ?? "")")

        let bare = try BcryptHasher().hash(password: "pw", cost: 4).string
        let upgraded = Self.post(rotated, "/api/verify", ["password": "pw", "hash": bare]).1
        #expect(PepperedHash(parsing: upgraded["rehash"] as? String ?? "")?.keyID == "k2", "\(upgraded)")

        // k1 retired: its hashes are an error, not a mismatch, and nothing is verified.
        for service in [try Self.service([Self.second]), try Self.service(nil)] {
            let (code, answer) = Self.post(service, "/api/verify", ["password": "pw", "hash": old])
            #expect(code == 400 && answer["error"] as? String == "unknown_pepper_key", "\(answer)")
            #expect((answer["message"] as? String)?.contains("k1") == true)
            #expect(
                Self.post(service, "/api/needs-rehash", ["hash": old]).1["error"] as? String == "unknown_pepper_key")
        }
    }

    @Test("with a pepper a passphrase of any length counts whole; without one, over 72 bytes is refused; NUL never")
    func longPasswords() throws {
        let service = try Self.service([Self.first])
        let long = String(repeating: "a", count: 300)
        let hash = try #require(Self.post(service, "/api/hash", ["password": long]).1["hash"] as? String)
        #expect(Self.post(service, "/api/verify", ["password": long, "hash": hash]).1["match"] as? Bool == true)
        // bcrypt alone would stop at 72 bytes; the HMAC reads them all.
        #expect(
            Self.post(service, "/api/verify", ["password": String(long.dropLast()) + "b", "hash": hash]).1["match"]
                as? Bool == false)
        #expect(
            Self.post(try Self.service(nil), "/api/hash", ["password": long]).1["error"] as? String
                == "password_too_long")
        #expect(
            Self.post(service, "/api/hash", ["password": "a\u{0}b"]).1["error"] as? String == "password_contains_nul")
        // An unknown user's verify is peppered too: the same work.
        #expect(Self.post(service, "/api/verify", ["password": long, "hash": NSNull()]).1["match"] as? Bool == false)
    }
}
