import Bcrypt
import Foundation

/// The server-side secrets mixed into every password before bcrypt (`--pepper-file`): one or more
/// keys, each with an id; the newest (the file's last) hashes, and every one verifies.
///
/// A peppered password is `base64(HMAC-SHA-256(key, password))`, 44 characters: bcrypt sees no
/// more than its 72 bytes and no NUL, so a passphrase of any length counts whole. The stored hash
/// records the key's id in an envelope, ``PepperedHash``.
public struct Pepper: Sendable, Equatable {
    /// One key of the file.
    public struct Key: Sendable, Equatable {
        /// Its id, recorded in every hash made with it: 1 to 32 of `A-Z a-z 0-9 _ -`.
        public var id: String
        /// Its bytes, at least 32.
        var secret: [UInt8]
    }

    /// The keys in the file's order; the last is the newest.
    public let keys: [Key]

    /// The key new hashes are made with.
    public var newest: Key { keys[keys.count - 1] }

    /// The fewest bytes a key may have: HMAC-SHA-256's own output size.
    public static let minimumKeyBytes = 32

    /// Why a pepper file cannot be used.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Parses the file's text: one `id:base64-key` per line; blank lines and `#` comments skipped.
    public init(parsing text: String) throws(Problem) {
        var keys: [Key] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, Self.isValidID(parts[0]) else {
                throw Problem(description: "line \(index + 1) is not id:base64-key (id: 1 to 32 of A-Z a-z 0-9 _ -)")
            }
            let id = String(parts[0])
            guard let secret = Data(base64Encoded: String(parts[1])), secret.count >= Self.minimumKeyBytes else {
                throw Problem(
                    description:
                        "line \(index + 1): key \(id) is not base64 of at least \(Self.minimumKeyBytes) bytes (openssl rand -base64 32)"
                )
            }
            guard !keys.contains(where: { $0.id == id }) else {
                throw Problem(description: "line \(index + 1): key \(id) is given twice")
            }
            keys.append(Key(id: id, secret: Array(secret)))
        }
        guard !keys.isEmpty else { throw Problem(description: "it holds no key") }
        self.keys = keys
    }

    static func isValidID(_ id: some StringProtocol) -> Bool {
        (1...32).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
    }

    /// The key with `id`, or `nil`.
    public func key(id: String) -> Key? {
        keys.first { $0.id == id }
    }

    /// What bcrypt hashes for `password` under `key`.
    public static func peppered(_ password: String, with key: Key) throws(BcryptError) -> String {
        let digest = try KeyedHash.sha256(key: key.secret, message: Array(password.utf8))
        return Data(digest).base64EncodedString()
    }
}

/// A bcrypt hash made from a peppered password, with the id of the key: `$pepper$<id>` followed by
/// the bcrypt hash, e.g. `$pepper$k2$2b$12$…`. It goes to the application and back as one string.
public struct PepperedHash: Sendable, Equatable {
    /// The key's id.
    public let keyID: String
    /// The bcrypt hash of the peppered password.
    public let hash: BcryptHash

    /// The envelope's prefix.
    public static let prefix = "$pepper$"

    /// Wraps `hash`, made with key `keyID`.
    public init(keyID: String, hash: BcryptHash) {
        self.keyID = keyID
        self.hash = hash
    }

    /// Parses an envelope; `nil` for anything else (a bare bcrypt hash among them).
    public init?(parsing text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let rest = text.dropFirst(Self.prefix.count)
        guard let end = rest.firstIndex(of: "$"), Pepper.isValidID(rest[..<end]),
            let hash = BcryptHash(parsing: String(rest[end...]))
        else { return nil }
        keyID = String(rest[..<end])
        self.hash = hash
    }

    /// The envelope as stored.
    public var string: String { Self.prefix + keyID + hash.string }
}
