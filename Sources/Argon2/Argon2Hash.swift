/// A stored argon2id hash in the PHC string format, e.g.
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<digest>` (base64 without padding), with an optional
/// `keyid` parameter naming the pepper key the password was keyed with.
///
/// Parsing checks the whole string against ``Argon2Limits`` before anything is allocated for
/// it: the length, each number's digits, the parameters, the salt's and the digest's sizes.
public struct Argon2Hash: Sendable, Hashable, CustomStringConvertible {
    /// m, t, p.
    public let parameters: Argon2Parameters
    /// The pepper key's id (`keyid`, decoded), or `nil` for a hash made without a pepper.
    public let keyID: String?
    /// The salt's bytes.
    public let salt: [UInt8]
    /// The digest's bytes.
    public let digest: [UInt8]

    /// The prefix of every argon2id PHC string.
    public static let prefix = "$argon2id$"
    /// The longest PHC string taken: ample for the largest limits, a 32-byte key id, a 64-byte salt and digest.
    public static let maximumLength = 320

    /// Creates a hash from its parts.
    public init(parameters: Argon2Parameters, keyID: String? = nil, salt: [UInt8], digest: [UInt8]) {
        self.parameters = parameters
        self.keyID = keyID
        self.salt = salt
        self.digest = digest
    }

    /// Why a string is not a hash this service verifies.
    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// Not an argon2id PHC string of version 19.
        case malformed(String)
        /// Well formed, but asking for more work or memory than the limits allow.
        case overLimits(Argon2Parameters, Argon2Limits)

        public var description: String {
            switch self {
            case .malformed(let why): "not an argon2id hash: \(why)"
            case .overLimits(let parameters, let limits):
                "argon2id \(parameters) exceeds this service's limits (m <= \(limits.maximumMemoryKiB) KiB, t <= \(limits.maximumPasses), p <= \(limits.maximumLanes))"
            }
        }
    }

    /// Parses `text` within `limits`.
    public init(parsing text: String, limits: Argon2Limits) throws(ParseError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw .malformed("longer than \(Self.maximumLength) characters")
        }
        guard text.hasPrefix(Self.prefix) else { throw .malformed("it does not start with \(Self.prefix)") }
        let fields = text.utf8.dropFirst(Self.prefix.utf8.count).split(
            separator: UInt8(ascii: "$"), omittingEmptySubsequences: false)
        guard fields.count == 4 else { throw .malformed("expected v=19$m=…,t=…,p=…$salt$digest") }
        guard fields[0].elementsEqual("v=19".utf8) else { throw .malformed("only version 19 (0x13) is taken") }
        var memory: Int?
        var passes: Int?
        var lanes: Int?
        var keyID: String?
        for (index, pair) in fields[1].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .enumerated()
        {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .malformed("parameter \(index + 1) is not name=value") }
            let name = String(decoding: parts[0], as: UTF8.self)
            switch (name, index) {
            case ("m", 0): memory = Self.number(parts[1])
            case ("t", 1): passes = Self.number(parts[1])
            case ("p", 2): lanes = Self.number(parts[1])
            case ("keyid", 3):
                guard let bytes = Base64.decode(parts[1], maximumBytes: 48), !bytes.isEmpty,
                    let id = String(validating: bytes, as: UTF8.self)
                else { throw .malformed("keyid is not base64 of a key id") }
                keyID = id
            default: throw .malformed("parameters must be m, t, p and optionally keyid, in that order")
            }
        }
        guard let memory, let passes, let lanes else { throw .malformed("m, t and p must be whole numbers") }
        let parameters = Argon2Parameters(memoryKiB: memory, passes: passes, lanes: lanes)
        if let problem = parameters.problem { throw .malformed(problem) }
        guard limits.allow(parameters) else { throw .overLimits(parameters, limits) }
        guard let salt = Base64.decode(fields[2], maximumBytes: Argon2Limits.saltBytes.upperBound),
            Argon2Limits.saltBytes.contains(salt.count)
        else { throw .malformed("the salt is not base64 of \(Argon2Limits.saltBytes) bytes") }
        guard let digest = Base64.decode(fields[3], maximumBytes: Argon2Limits.digestBytes.upperBound),
            Argon2Limits.digestBytes.contains(digest.count)
        else { throw .malformed("the digest is not base64 of \(Argon2Limits.digestBytes) bytes") }
        self.init(parameters: parameters, keyID: keyID, salt: salt, digest: digest)
    }

    /// A decimal number of at most 10 digits without a leading zero, or `nil`.
    private static func number(_ text: some Collection<UInt8>) -> Int? {
        let digits = Array(text.prefix(11))
        guard (1...10).contains(digits.count), digits.allSatisfy({ (48...57).contains($0) }),
            digits.count == 1 || digits[0] != 48
        else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - 48) }
    }

    /// The PHC string.
    public var string: String {
        var parameters = self.parameters.description
        if let keyID { parameters += ",keyid=" + Base64.encode(Array(keyID.utf8)) }
        return Self.prefix + "v=19$" + parameters + "$" + Base64.encode(salt) + "$" + Base64.encode(digest)
    }

    public var description: String { string }
}
