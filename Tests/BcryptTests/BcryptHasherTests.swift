import Bcrypt
import Foundation
import Testing

@Suite("BcryptHasher")
struct BcryptHasherTests {
    /// Published vectors from OpenWall's crypt_blowfish (wrapper.c tests), ASCII passwords only.
    static let openwallVectors: [(hash: String, password: String)] = [
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", "U*U*"),
        ("$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", "U*U*U"),
        ("$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy", ""),
        (
            "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        ),
    ]

    @Test("verifies OpenWall's published vectors", arguments: 0..<openwallVectors.count)
    func openwallVector(index: Int) throws {
        let vector = Self.openwallVectors[index]
        let hash = try #require(BcryptHash(parsing: vector.hash))
        #expect(try BcryptHasher().verify(password: vector.password, against: hash))
        let other = vector.password.isEmpty ? "x" : String(vector.password.dropLast()) + "#"
        #expect(try !BcryptHasher().verify(password: other, against: hash))
    }

    @Test("$2b$ and $2y$ verify like $2a$ for ASCII passwords", arguments: ["2b", "2y"])
    func variants(prefix: String) throws {
        let original = Self.openwallVectors[0]
        let hash = try #require(BcryptHash(parsing: "$\(prefix)" + original.hash.dropFirst(3)))
        #expect(try BcryptHasher().verify(password: original.password, against: hash))
    }

    @Test("hashes with a fresh salt at the asked cost, and verifies its own hashes")
    func hashRoundTrip() throws {
        let hasher = BcryptHasher()
        let first = try hasher.hash(password: "correct horse", cost: 5)
        let second = try hasher.hash(password: "correct horse", cost: 5)
        #expect(first.string.hasPrefix("$2b$05$"))
        #expect(first.cost == 5 && first.variant == .b)
        #expect(first != second, "every hash gets its own salt")
        #expect(try hasher.verify(password: "correct horse", against: first))
        #expect(try !hasher.verify(password: "correct horsf", against: first))
    }

    @Test("refuses passwords bcrypt would truncate")
    func truncationIsRefused() throws {
        let hasher = BcryptHasher()
        let longest = String(repeating: "a", count: 72)
        _ = try hasher.hash(password: longest, cost: 4)
        #expect(throws: BcryptError.passwordTooLong(byteCount: 73)) {
            try hasher.hash(password: longest + "a", cost: 4)
        }
        // 36 two-byte characters are 72 bytes; one more is 74.
        #expect(throws: BcryptError.passwordTooLong(byteCount: 74)) {
            try hasher.hash(password: String(repeating: "é", count: 37), cost: 4)
        }
        #expect(throws: BcryptError.passwordContainsNUL) {
            try hasher.hash(password: "abc\u{0}def", cost: 4)
        }
    }

    @Test("refuses costs bcrypt does not support")
    func costRange() {
        #expect(throws: BcryptError.costOutOfRange(cost: 3, allowed: 4...31)) {
            try BcryptHasher().hash(password: "x", cost: 3)
        }
        #expect(throws: BcryptError.costOutOfRange(cost: 32, allowed: 4...31)) {
            try BcryptHasher().hash(password: "x", cost: 32)
        }
    }

    @Test("parses only well-formed hashes")
    func parsing() {
        let good = Self.openwallVectors[0].hash
        #expect(BcryptHash(parsing: good)?.cost == 5)
        #expect(BcryptHash(parsing: good)?.variant == .a)
        let tail = String(good.dropFirst(7))
        let bad: [String] = [
            "", "hello", String(good.dropLast()), good + "x",
            "$2x$05$" + tail,  // crypt_blowfish's buggy-8-bit variant is not accepted
            "$1$05$" + tail, "$2a$99$" + tail, "$2a$03$" + tail, "$2a$0a$" + tail,
            String(good.dropLast()) + "!", String(good.dropLast()) + "é",
        ]
        for text in bad {
            #expect(BcryptHash(parsing: text) == nil, "\(text) must not parse")
        }
    }

    @Test("PHP's password_verify accepts our hashes, and we accept PHP's")
    func independentImplementation() throws {
        let hasher = BcryptHasher()
        let ours = try hasher.hash(password: "pässwörd 1", cost: 5)
        #expect(
            try php(#"echo password_verify($argv[1], $argv[2]) ? "yes" : "no";"#, "pässwörd 1", ours.string) == "yes")
        #expect(
            try php(#"echo password_verify($argv[1], $argv[2]) ? "yes" : "no";"#, "pässwörd 2", ours.string) == "no")

        let theirs = try php(#"echo password_hash($argv[1], PASSWORD_BCRYPT, ["cost" => 5]);"#, "from php", "")
        let parsed = try #require(BcryptHash(parsing: theirs))
        #expect(parsed.variant == .y)
        #expect(try hasher.verify(password: "from php", against: parsed))
        #expect(try !hasher.verify(password: "from PHP", against: parsed))
    }

    private func php(_ code: String, _ first: String, _ second: String) throws -> String {
        try BcryptLanesTests.run("/usr/bin/php", ["-r", code, first, second])
    }
}
