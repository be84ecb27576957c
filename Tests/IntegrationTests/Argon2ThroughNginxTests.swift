import Foundation
import StackTestSupport
import Testing

/// `--algorithm argon2id` through real nginx and workers: new hashes an independent argon2id
/// verifies, migration from bcrypt, a hostile stored hash refused before it runs, the pepper's
/// key id, and the figures by algorithm.
@Suite("argon2id through nginx", .serialized)
struct Argon2ThroughNginxTests {
    static let python = TestFiles.checkout + "/.build/tools/venv/bin/python"

    /// argon2-cffi's verdict on `password` against a PHC string (keyid removed: it takes none).
    static func independentVerify(_ password: String, _ hash: String) throws -> String {
        let bare = hash.replacingOccurrences(of: #",keyid=[A-Za-z0-9+/]+"#, with: "", options: .regularExpression)
        let script = """
            import sys
            from argon2 import PasswordHasher
            from argon2.exceptions import VerifyMismatchError
            try:
                PasswordHasher().verify(sys.argv[2], sys.argv[1].encode()); print("match")
            except VerifyMismatchError:
                print("mismatch")
            """
        return try Command.run(python, ["-c", script, password, bare]).output.trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    @Test(
        "hash, verify and needs-rehash with argon2id; a bcrypt hash migrates; argon2-cffi agrees; stats count argon2id")
    func argon2idPolicy() throws {
        let stack = try TestStack(
            workers: 2, cost: 4,
            arguments: [
                "--algorithm", "argon2id", "--argon2-memory", "2048", "--argon2-passes", "2", "--argon2-lanes", "2",
            ])
        defer { _ = try? stack.stop() }
        let client = stack.client()
        let hashed = try client.request("POST", "/api/hash", body: jsonBody(["password": "s3cret passphrase"]))
        let hash = try #require(hashed.json["hash"] as? String, "\(hashed.text)")
        #expect(hash.hasPrefix("$argon2id$v=19$m=2048,t=2,p=2$"), "\(hash)")
        #expect(try Self.independentVerify("s3cret passphrase", hash) == "match")
        #expect(try Self.independentVerify("s3cret passphrasE", hash) == "mismatch")
        let verified = try client.request(
            "POST", "/api/verify", body: jsonBody(["password": "s3cret passphrase", "hash": hash]))
        #expect(verified.text.hasPrefix(#"{"match":true,"rehash":null}"#), "\(verified.text)")

        // A bcrypt hash from before the switch verifies and comes back as argon2id.
        let php = try Command.run(
            "/usr/bin/php", ["-r", #"echo password_hash("old", PASSWORD_BCRYPT, ["cost" => 4]);"#])
        let migrated = try client.request(
            "POST", "/api/verify", body: jsonBody(["password": "old", "hash": php.output]))
        let rehash = try #require(migrated.json["rehash"] as? String, "\(migrated.text)")
        #expect(rehash.hasPrefix("$argon2id$v=19$m=2048,t=2,p=2$"))
        #expect(try Self.independentVerify("old", rehash) == "match")

        // A stored hash asking for 4 GiB is a 400 at once, and nothing runs for it.
        let before = try client.request("GET", "/api/stats").json["counters"] as? [String: Any]
        let hostile = "$argon2id$v=19$m=4194304,t=64,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
        let refused = try client.request("POST", "/api/verify", body: jsonBody(["password": "x", "hash": hostile]))
        #expect(refused.status == 400 && refused.errorCode == "parameters_out_of_range", "\(refused.text)")
        usleep(200_000)
        let stats = try client.request("GET", "/api/stats").json
        let counters = stats["counters"] as? [String: Any]
        #expect(counters?["admitted"] as? Int == before?["admitted"] as? Int, "a job was admitted for a refused hash")
        let byAlgorithm = stats["completed_by_algorithm"] as? [String: Any]
        // Three argon2id jobs (the hash, the verify, the migration's rehash), one bcrypt (the migration's
        // verify), none for the refusal.
        #expect(byAlgorithm?["argon2id"] as? Int == 3 && byAlgorithm?["bcrypt"] as? Int == 1, "\(stats)")
        let memory = stats["memory"] as? [String: Any]
        #expect((memory?["budget_kib"] as? Int ?? 0) > 0 && memory?["in_use_kib"] as? Int == 0, "\(stats)")
        let classes = (stats["argon2id"] as? [String: Any])?["classes"] as? [[String: Any]]
        #expect(classes?.contains { $0["memory_kib"] as? Int == 2048 && $0["passes"] as? Int == 2 } == true, "\(stats)")
    }

    @Test("--argon2-memory beyond --hash-memory, or below 8 KiB per lane: the worker refuses to start and says why")
    func badParameters() throws {
        let tooBig = try Command.run(
            try TestBinary.path,
            ["worker", "--listen", "unix:/tmp/fl-argon2-never.sock", "--argon2-memory", "65536", "--hash-memory", "32"])
        #expect(tooBig.status != 0 && tooBig.output.contains("does not fit --hash-memory"), "\(tooBig.output)")
        let thin = try Command.run(
            try TestBinary.path,
            ["worker", "--listen", "unix:/tmp/fl-argon2-never.sock", "--argon2-memory", "16", "--argon2-lanes", "4"])
        #expect(thin.status != 0 && thin.output.contains("8 KiB per lane"), "\(thin.output)")
    }
}
