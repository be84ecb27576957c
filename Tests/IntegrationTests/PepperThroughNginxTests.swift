import Foundation
import POSIXSupport
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `--pepper-file` with real workers: the file's permissions checked at start, and key rotation
/// through nginx.
@Suite("the pepper through nginx", .serialized)
struct PepperThroughNginxTests {
    static func key(_ id: String, _ byte: UInt8) -> String {
        id + ":" + Data(repeating: byte, count: 32).base64EncodedString() + "\n"
    }

    static func write(_ text: String, to path: String, mode: mode_t = 0o600) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, mode) == 0)
    }

    @Test("a pepper file open to others, a symbolic link, or someone else's: the worker refuses to start and says why")
    func fileChecks() throws {
        let folder = try TestFiles.makeTemporaryDirectory(prefix: "fl-pepper")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/pepper"
        func start() throws -> Command.Outcome {
            try Command.run(
                try TestBinary.path,
                ["worker", "--listen", "unix:\(folder)/worker.sock", "--no-admission", "--pepper-file", file])
        }
        for mode: mode_t in [0o644, 0o660, 0o604, 0o700] {
            try Self.write(Self.key("k1", 1), to: file, mode: mode)
            let run = try start()
            #expect(run.status != 0 && run.output.contains("mode \(String(mode, radix: 8))"), "\(mode): \(run.output)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/worker.sock"))
        }
        try Self.write("k1:tooshort\n", to: file)
        let short = try start()
        #expect(short.status != 0 && short.output.contains("line 1"), "\(short.output)")
        try Self.write(Self.key("k1", 1), to: folder + "/real")
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/real")
        let linked = try Command.run(
            try TestBinary.path,
            ["worker", "--listen", "unix:\(folder)/worker.sock", "--no-admission", "--pepper-file", folder + "/link"])
        #expect(linked.status != 0 && linked.output.contains("open"), "\(linked.output)")
        // Another user's file, 0600 and valid: refused (the suite runs as root, who can hand it over).
        try #require(geteuid() == 0, "this check needs root to chown the file")
        try Self.write(Self.key("k1", 1), to: file)
        #expect(chown(file, 65534, 65534) == 0)
        let foreign = try start()
        #expect(foreign.status != 0 && foreign.output.contains("belongs to uid 65534"), "\(foreign.output)")
    }

    @Test(
        "through nginx: hashes carry the key's id; after rotation an old hash verifies and comes back under the newest key; a retired key is 400 unknown_pepper_key"
    )
    func rotation() throws {
        let folder = try TestFiles.makeTemporaryDirectory(prefix: "fl-pepper-stack")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/pepper"
        func stack(_ keys: String) throws -> TestStack {
            try Self.write(keys, to: file)
            return try TestStack(workers: 1, cost: 5, arguments: ["--max-cost", "5", "--pepper-file", file])
        }
        let passphrase = String(repeating: "a long passphrase ", count: 10)

        let first = try stack(Self.key("k1", 1))
        let hashed = try first.client().request("POST", "/api/hash", body: jsonBody(["password": passphrase]))
        _ = try first.stop()
        let old = try #require(hashed.json["hash"] as? String, "\(hashed.text)")
        #expect(old.hasPrefix("$pepper$k1$2b$05$"), "\(old)")

        let rotated = try stack(Self.key("k1", 1) + Self.key("k2", 2))
        defer { _ = try? rotated.stop() }
        let verified = try rotated.client().request(
            "POST", "/api/verify", body: jsonBody(["password": passphrase, "hash": old]))
        #expect(verified.json["match"] as? Bool == true, "\(verified.text)")
        let rehash = try #require(verified.json["rehash"] as? String, "\(verified.text)")
        #expect(rehash.hasPrefix("$pepper$k2$2b$05$"))
        let wrong = try rotated.client().request(
            "POST", "/api/verify", body: jsonBody(["password": passphrase + "!", "hash": rehash]))
        #expect(wrong.json["match"] as? Bool == false)
        _ = try rotated.stop()

        let retired = try stack(Self.key("k2", 2))
        defer { _ = try? retired.stop() }
        let refused = try retired.client().request(
            "POST", "/api/verify", body: jsonBody(["password": passphrase, "hash": old]))
        #expect(refused.status == 400 && refused.errorCode == "unknown_pepper_key", "\(refused.text)")
        let current = try retired.client().request(
            "POST", "/api/verify", body: jsonBody(["password": passphrase, "hash": rehash]))
        #expect(current.json["match"] as? Bool == true && current.json["rehash"] is NSNull, "\(current.text)")
    }
}
