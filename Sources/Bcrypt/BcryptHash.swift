/// A syntactically valid bcrypt hash string: `$2b$12$` + 22 salt and 31 hash characters.
public struct BcryptHash: Hashable, Sendable, CustomStringConvertible {
    /// The bcrypt flavours crypt_blowfish, OpenBSD and PHP produce; all three verify alike for
    /// passwords without 8-bit bugs.
    public enum Variant: String, Sendable {
        case a = "2a"
        case b = "2b"
        case y = "2y"
    }

    /// The hash exactly as given.
    public let string: String
    /// Its variant prefix.
    public let variant: Variant
    /// Its cost (log2 of the rounds).
    public let cost: Int

    /// The length of every bcrypt hash string.
    public static let length = 60

    /// Parses `text`; `nil` unless it is a well-formed bcrypt hash.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == Self.length, bytes[0] == UInt8(ascii: "$"), bytes[3] == UInt8(ascii: "$"),
            bytes[6] == UInt8(ascii: "$"),
            let variant = Variant(rawValue: String(decoding: bytes[1...2], as: UTF8.self)),
            let tens = Self.digit(bytes[4]), let ones = Self.digit(bytes[5])
        else { return nil }
        let cost = tens * 10 + ones
        guard BcryptHasher.supportedCosts.contains(cost),
            bytes[7...].allSatisfy(Self.isBcryptBase64)
        else { return nil }
        self.string = text
        self.variant = variant
        self.cost = cost
    }

    public var description: String { string }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    private static func isBcryptBase64(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "/"): true
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): true
        case UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: false
        }
    }
}
