import Foundation
import StackTestSupport
import Testing

@testable import Argon2

/// argon2id through libargon2, checked against the reference vector and an independent
/// implementation (argon2-cffi, whose wheel carries its own build).
@Suite struct Argon2HasherTests {
    static let small = Argon2Parameters(memoryKiB: 1024, passes: 1, lanes: 1)

    @Test("the reference vector verifies, and a wrong password does not")
    func referenceVector() throws {
        let hash = try Argon2Hash(parsing: Argon2HashTests.reference, limits: Argon2HashTests.limits)
        #expect(try Argon2Hasher.verify(password: Array("password".utf8), against: hash))
        #expect(try !Argon2Hasher.verify(password: Array("passwore".utf8), against: hash))
    }

    @Test("a new hash carries its parameters, a fresh salt, and verifies; lanes change the hash")
    func newHashes() throws {
        let password = Array("correct horse battery staple".utf8)
        let first = try Argon2Hasher.hash(password: password, parameters: Self.small)
        let second = try Argon2Hasher.hash(password: password, parameters: Self.small)
        #expect(first.parameters == Self.small)
        #expect(first.salt.count == Argon2Hasher.saltBytes && first.digest.count == Argon2Hasher.digestBytes)
        #expect(first.salt != second.salt)
        #expect(try Argon2Hasher.verify(password: password, against: first))
        let fourLanes = Argon2Parameters(memoryKiB: 1024, passes: 1, lanes: 4)
        let digest1 = try Argon2Hasher.compute(
            password: password, salt: first.salt, parameters: Self.small, digestBytes: 32)
        let digest4 = try Argon2Hasher.compute(
            password: password, salt: first.salt, parameters: fourLanes, digestBytes: 32)
        #expect(digest1 != digest4)
    }

    @Test("argon2-cffi verifies our hashes, with a key id, four lanes and a long password, and refuses a wrong one")
    func independentVerifies() throws {
        let python = TestFiles.checkout + "/.build/tools/venv/bin/python"
        let cases: [(String, Argon2Parameters, String?)] = [
            ("plain", Self.small, nil),
            (
                String(repeating: "long passphrase ", count: 40),
                Argon2Parameters(memoryKiB: 2048, passes: 2, lanes: 4), nil
            ),
            ("ünïcödé", Self.small, "k1"),
        ]
        let script = """
            import sys
            from argon2 import PasswordHasher
            from argon2.exceptions import VerifyMismatchError
            try:
                PasswordHasher().verify(sys.argv[2], sys.argv[1].encode())
                print("match")
            except VerifyMismatchError:
                print("mismatch")
            """
        for (password, parameters, keyID) in cases {
            let hash = try Argon2Hasher.hash(password: Array(password.utf8), parameters: parameters, keyID: keyID)
            // argon2-cffi takes no keyid: it checks the digest of the string without it.
            let bare = Argon2Hash(parameters: hash.parameters, salt: hash.salt, digest: hash.digest).string
            let match = try Command.run(python, ["-c", script, password, bare])
            #expect(match.status == 0 && match.output == "match\n", "\(bare): \(match.output)")
            let mismatch = try Command.run(python, ["-c", script, password + "!", bare])
            #expect(mismatch.output == "mismatch\n", "\(bare): \(mismatch.output)")
        }
    }

    @Test("argon2-cffi's hashes verify here")
    func independentHashesVerify() throws {
        let python = TestFiles.checkout + "/.build/tools/venv/bin/python"
        let script = """
            import sys
            from argon2 import PasswordHasher
            print(PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(sys.argv[1]))
            """
        let made = try Command.run(python, ["-c", script, "theirs"])
        #expect(made.status == 0, "\(made.output)")
        let hash = try Argon2Hash(
            parsing: made.output.trimmingCharacters(in: .whitespacesAndNewlines), limits: Argon2HashTests.limits)
        #expect(try Argon2Hasher.verify(password: Array("theirs".utf8), against: hash))
        #expect(try !Argon2Hasher.verify(password: Array("mine".utf8), against: hash))
    }
}
