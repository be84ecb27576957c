import Testing

@testable import Argon2

/// PHC strings: what is taken, what is refused, and that the limits are checked while parsing.
@Suite struct Argon2HashTests {
    static let limits = Argon2Limits(maximumMemoryKiB: 64 * 1024, maximumPasses: 16, maximumLanes: 16)
    /// The reference implementation's own test vector (argon2id, v=19, t=2, m=2^16, p=1,
    /// "password", "somesalt").
    static let reference = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

    @Test("the reference vector parses into its parts and renders back to the same string")
    func roundTrip() throws {
        let hash = try Argon2Hash(parsing: Self.reference, limits: Self.limits)
        #expect(hash.parameters == Argon2Parameters(memoryKiB: 65536, passes: 2, lanes: 1))
        #expect(hash.salt == Array("somesalt".utf8))
        #expect(hash.digest.count == 32)
        #expect(hash.keyID == nil)
        #expect(hash.string == Self.reference)
    }

    @Test("a key id travels in keyid, base64, and comes back")
    func keyID() throws {
        let hash = Argon2Hash(
            parameters: .owasp, keyID: "k2_rotated-2026", salt: Array(repeating: 7, count: 16),
            digest: Array(repeating: 9, count: 32))
        #expect(hash.string.contains(",keyid="))
        #expect(try Argon2Hash(parsing: hash.string, limits: Self.limits) == hash)
    }

    @Test("parameters over the limits are refused as such, whatever their size")
    func overLimits() {
        for parameters in ["m=4194304,t=2,p=1", "m=65537,t=2,p=1", "m=19456,t=17,p=1", "m=19456,t=2,p=17"] {
            let text = "$argon2id$v=19$\(parameters)$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
            #expect {
                try Argon2Hash(parsing: text, limits: Self.limits)
            } throws: { error in
                if case .overLimits = error as? Argon2Hash.ParseError { return true }
                return false
            }
        }
    }

    @Test(
        "malformed strings are refused",
        arguments: [
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$t=2,m=65536,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=7,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1,data=YQ$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPd",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFh",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
            "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=65536,t=2,p=1$" + String(repeating: "A", count: 400),
        ])
    func malformed(_ text: String) {
        #expect {
            try Argon2Hash(parsing: text, limits: Self.limits)
        } throws: { error in
            if case .malformed = error as? Argon2Hash.ParseError { return true }
            return false
        }
    }

    @Test("base64 without padding round-trips every length, and stray low bits are refused")
    func base64() {
        for count in 0..<40 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Array(Base64.encode(bytes).utf8), maximumBytes: 64) == bytes)
        }
        #expect(Base64.decode(Array("YR".utf8), maximumBytes: 8) == nil)
        #expect(Base64.decode(Array("Y".utf8), maximumBytes: 8) == nil)
        #expect(Base64.decode(Array("YWJj".utf8), maximumBytes: 2) == nil)
    }
}
