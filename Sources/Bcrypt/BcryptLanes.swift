import CBcryptLanes
import COpenSSL

/// bcrypt for several passwords at once: fullyloaded's own `$2b$` core (`CBcryptLanes`), which
/// interleaves the Blowfish rounds of up to ``maximumLanes`` independent hashes at the same cost
/// on one thread, so that a core works while each hash waits on its S-box lookups.
///
/// Each lane gives exactly what ``BcryptHasher`` (libxcrypt) gives for the same password, salt
/// and cost. The passwords are copied into memory owned here and wiped after the call, with the
/// core's keys and Blowfish states.
public enum BcryptLanes {
    /// The most hashes one call interleaves.
    public static let maximumLanes = Int(FL_BCRYPT_MAX_LANES)

    /// One hash of a batch: a password's bytes and the 16 bytes of its salt.
    public struct Job: Sendable {
        public var password: [UInt8]
        public var salt: [UInt8]

        public init(password: [UInt8], salt: [UInt8]) {
            self.password = password
            self.salt = salt
        }
    }

    /// The `$2b$` hashes of `jobs` (1...``maximumLanes`` of them) at `cost`, in order.
    public static func hash(_ jobs: [Job], cost: Int) throws(BcryptError) -> [BcryptHash] {
        guard BcryptHasher.supportedCosts.contains(cost) else {
            throw .costOutOfRange(cost: cost, allowed: BcryptHasher.supportedCosts)
        }
        guard (1...maximumLanes).contains(jobs.count), jobs.allSatisfy({ $0.salt.count == 16 }) else {
            throw .hashingFailed(call: "fl_bcrypt_hash_lanes", errno: 0)
        }
        for job in jobs { try BcryptHasher.validate(passwordBytes: job.password) }
        let keys = UnsafeMutablePointer<UInt8>.allocate(capacity: maximumLanes * BcryptHasher.maximumPasswordBytes)
        let lanes = UnsafeMutablePointer<fl_bcrypt_lane>.allocate(capacity: maximumLanes)
        lanes.initialize(repeating: fl_bcrypt_lane(), count: maximumLanes)
        defer {
            OPENSSL_cleanse(keys, maximumLanes * BcryptHasher.maximumPasswordBytes)
            OPENSSL_cleanse(lanes, maximumLanes * MemoryLayout<fl_bcrypt_lane>.stride)
            keys.deallocate()
            lanes.deallocate()
        }
        for (index, job) in jobs.enumerated() {
            let key = keys + index * BcryptHasher.maximumPasswordBytes
            var length = 0
            for byte in job.password {
                key[length] = byte
                length += 1
            }
            lanes[index].password = UnsafePointer(key)
            lanes[index].password_length = length
            withUnsafeMutableBytes(of: &lanes[index].salt) { salt in
                for (offset, byte) in job.salt.enumerated() { salt[offset] = byte }
            }
        }
        guard fl_bcrypt_hash_lanes(lanes, Int32(jobs.count), Int32(cost)) == 0 else {
            throw .hashingFailed(call: "fl_bcrypt_hash_lanes", errno: 0)
        }
        return try (0..<jobs.count).map { index throws(BcryptError) in
            let text = withUnsafeBytes(of: &lanes[index].output) { output in
                String(decoding: output.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let hash = BcryptHash(parsing: text) else {
                throw .hashingFailed(call: "fl_bcrypt_hash_lanes", errno: 0)
            }
            return hash
        }
    }

    /// The `$2b$` hashes of `passwords` at `cost`, each with a fresh random salt.
    public static func hash(passwords: [String], cost: Int) throws(BcryptError) -> [BcryptHash] {
        var jobs: [Job] = []
        // The byte copies made here are this function's: wiped on every path.
        defer {
            for index in jobs.indices {
                jobs[index].password.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
            }
        }
        for password in passwords { jobs.append(Job(password: Array(password.utf8), salt: try SecureRandom.bytes(16))) }
        return try hash(jobs, cost: cost)
    }

    /// The salt inside `hash`, or `nil` if this core does not hash as that hash's variant does
    /// for `password`: a `$2a$` hash of a password with 8-bit bytes, which libxcrypt treats with
    /// its countermeasure for the old sign-extension bug (``BcryptHasher`` verifies those).
    public static func salt(of hash: BcryptHash, for password: some Sequence<UInt8>) -> [UInt8]? {
        if hash.variant == .a, password.contains(where: { $0 >= 0x80 }) { return nil }
        var salt = [UInt8](repeating: 0, count: 16)
        let decoded = Array(hash.string.utf8CString[7..<29]).withUnsafeBufferPointer { encoded in
            fl_bcrypt_decode_salt(encoded.baseAddress, &salt)
        }
        return decoded == 0 ? salt : nil
    }

    /// Whether `computed` (this core's hash of a password, with the salt and cost of `hash`)
    /// matches `hash`: everything after the variant is compared, in constant time.
    public static func matches(_ computed: BcryptHash, _ hash: BcryptHash) -> Bool {
        let expected = Array(hash.string.utf8.dropFirst(3))
        let actual = Array(computed.string.utf8.dropFirst(3))
        guard actual.count == expected.count, computed.cost == hash.cost else { return false }
        return CRYPTO_memcmp(actual, expected, expected.count) == 0
    }
}
