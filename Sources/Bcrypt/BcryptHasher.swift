import CCrypt
import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Hashes and verifies passwords with libxcrypt's bcrypt (`crypt_rn`).
///
/// One hasher per thread: it owns libxcrypt's 32 KiB `struct crypt_data` scratch area, which is
/// too large for a task's stack and must not be shared between threads at once.
public final class BcryptHasher {
    /// The costs bcrypt itself accepts.
    public static let supportedCosts = 4...31
    /// bcrypt reads at most this many bytes of a password.
    public static let maximumPasswordBytes = 72

    private let scratch: UnsafeMutablePointer<crypt_data>
    /// The password as bcrypt reads it (NUL-terminated), copied here rather than bridged by
    /// Swift, so that the one C copy is ours to wipe.
    private let key: UnsafeMutablePointer<CChar>
    private static let keyCapacity = maximumPasswordBytes + 1

    /// Allocates the scratch area.
    public init() {
        scratch = .allocate(capacity: 1)
        scratch.initialize(to: crypt_data())
        key = .allocate(capacity: Self.keyCapacity)
        key.initialize(repeating: 0, count: Self.keyCapacity)
    }

    deinit {
        scratch.deallocate()
        key.deallocate()
    }

    /// Checks that bcrypt would read `password` whole: at most 72 bytes and no NUL.
    public static func validate(password: String) throws(BcryptError) {
        try validate(passwordBytes: password.utf8)
    }

    /// Checks that bcrypt would read these bytes whole: at most 72 and no NUL.
    public static func validate(passwordBytes: some Collection<UInt8>) throws(BcryptError) {
        let count = passwordBytes.count
        guard count <= maximumPasswordBytes else { throw .passwordTooLong(byteCount: count) }
        guard !passwordBytes.contains(0) else { throw .passwordContainsNUL }
    }

    /// Hashes `password` with a fresh random salt at `cost`, returning a `$2b$` hash.
    public func hash(password: String, cost: Int) throws(BcryptError) -> BcryptHash {
        try Self.validate(password: password)
        guard Self.supportedCosts.contains(cost) else {
            throw .costOutOfRange(cost: cost, allowed: Self.supportedCosts)
        }
        let salt = try SecureRandom.bytes(16)
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let made = salt.withUnsafeBufferPointer { saltBytes in
            saltBytes.withMemoryRebound(to: CChar.self) { saltChars in
                crypt_gensalt_rn(
                    "$2b$", UInt(cost), saltChars.baseAddress, Int32(saltChars.count), &setting, Int32(setting.count))
            }
        }
        guard made != nil else { throw .hashingFailed(call: "crypt_gensalt_rn", errno: errno) }
        let result = try crypt(password: password.utf8, setting: setting)
        guard let hash = BcryptHash(parsing: result) else { throw .hashingFailed(call: "crypt_rn", errno: 0) }
        return hash
    }

    /// Whether `password` matches `hash`, compared in constant time.
    public func verify(password: String, against hash: BcryptHash) throws(BcryptError) -> Bool {
        try verify(passwordBytes: password.utf8, against: hash)
    }

    /// Whether a password of these bytes (any but NUL, not necessarily UTF-8) matches `hash`,
    /// compared in constant time.
    public func verify(passwordBytes password: some Collection<UInt8>, against hash: BcryptHash) throws(BcryptError)
        -> Bool
    {
        try Self.validate(passwordBytes: password)
        let setting = Array(hash.string.utf8CString)
        let computed = try crypt(password: password, setting: setting)
        let expected = Array(hash.string.utf8)
        let actual = Array(computed.utf8)
        guard actual.count == expected.count else { return false }
        return CRYPTO_memcmp(actual, expected, expected.count) == 0
    }

    private func crypt(password: some Sequence<UInt8>, setting: [CChar]) throws(BcryptError) -> String {
        // validate(passwordBytes:) bounds the length: the key and its NUL fit.
        var length = 0
        for byte in password {
            key[length] = CChar(bitPattern: byte)
            length += 1
        }
        key[length] = 0
        // The key and bcrypt's state (which derives from it) are wiped on every path, with a
        // call the optimiser may not drop: a core dump or a later heap reuse finds neither.
        defer {
            OPENSSL_cleanse(key, Self.keyCapacity)
            OPENSSL_cleanse(scratch, MemoryLayout<crypt_data>.size)
        }
        let result = crypt_rn(key, setting, scratch, Int32(MemoryLayout<crypt_data>.size))
        guard let result else { throw .hashingFailed(call: "crypt_rn", errno: errno) }
        // libxcrypt signals some failures with a hash starting with "*" instead of NULL.
        guard result.pointee != UInt8(ascii: "*") else { throw .hashingFailed(call: "crypt_rn", errno: errno) }
        return String(cString: result)
    }
}
