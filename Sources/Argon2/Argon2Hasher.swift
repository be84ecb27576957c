import Bcrypt
import CArgon2
import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// argon2id through libargon2, on the calling thread: the lanes of one hash are computed one
/// after another (libargon2's `threads` = 1), so that a hash holds one core, as admission counts it.
public enum Argon2Hasher {
    /// Salt bytes of a new hash.
    public static let saltBytes = 16
    /// Digest bytes of a new hash.
    public static let digestBytes = 32

    /// A new hash of `password` with a fresh salt; `keyID` names the pepper key the password
    /// was keyed with, if any (recorded in the hash, not used by it).
    public static func hash(password: [UInt8], parameters: Argon2Parameters, keyID: String? = nil)
        throws(BcryptError) -> Argon2Hash
    {
        let salt = try SecureRandom.bytes(saltBytes)
        let digest = try compute(password: password, salt: salt, parameters: parameters, digestBytes: digestBytes)
        return Argon2Hash(parameters: parameters, keyID: keyID, salt: salt, digest: digest)
    }

    /// Whether `password` matches `hash`, compared in constant time.
    public static func verify(password: [UInt8], against hash: Argon2Hash) throws(BcryptError) -> Bool {
        var digest = try compute(
            password: password, salt: hash.salt, parameters: hash.parameters, digestBytes: hash.digest.count)
        defer { digest.wipe() }
        return digest.count == hash.digest.count && CRYPTO_memcmp(digest, hash.digest, digest.count) == 0
    }

    /// The raw digest. The password is read in place (libargon2 writes to it only when asked to
    /// clear it, and flags are 0): its owner wipes it. libargon2 wipes its memory before giving
    /// it back; the memory is mapped
    /// for the hash and unmapped after it (not taken from malloc, which keeps freed blocks of
    /// this size), so that a worker's resident memory holds only the hashes that run.
    static func compute(password: [UInt8], salt: [UInt8], parameters: Argon2Parameters, digestBytes: Int)
        throws(BcryptError) -> [UInt8]
    {
        guard parameters.problem == nil, Argon2Limits.digestBytes.contains(digestBytes),
            Argon2Limits.saltBytes.contains(salt.count), password.count <= Int(UInt32.max)
        else { throw .hashingFailed(call: "argon2_ctx", errno: ARGON2_INCORRECT_PARAMETER.rawValue) }
        var digest = [UInt8](repeating: 0, count: digestBytes)
        let status = digest.withUnsafeMutableBufferPointer { out in
            password.withUnsafeBufferPointer { passwordBytes in
                salt.withUnsafeBufferPointer { saltBytes in
                    var context = argon2_context(
                        out: out.baseAddress, outlen: UInt32(out.count),
                        pwd: passwordBytes.baseAddress.map(UnsafeMutablePointer.init(mutating:)),
                        pwdlen: UInt32(passwordBytes.count),
                        salt: saltBytes.baseAddress.map(UnsafeMutablePointer.init(mutating:)),
                        saltlen: UInt32(saltBytes.count),
                        secret: nil, secretlen: 0, ad: nil, adlen: 0,
                        t_cost: UInt32(parameters.passes), m_cost: UInt32(parameters.memoryKiB),
                        lanes: UInt32(parameters.lanes), threads: 1,
                        version: UInt32(ARGON2_VERSION_13.rawValue),
                        allocate_cbk: mapMemory, free_cbk: unmapMemory,
                        flags: 0)  // ARGON2_DEFAULT_FLAGS
                    return argon2_ctx(&context, Argon2_id)
                }
            }
        }
        guard status == ARGON2_OK.rawValue else {
            digest.wipe()
            throw .hashingFailed(call: "argon2_ctx", errno: status)
        }
        return digest
    }

    /// libargon2's allocator: fresh anonymous pages for one hash, on huge pages where it can.
    ///
    /// Faulting in 19 MiB of small pages took about a third of an argon2id hash's time in the
    /// kernel; aligned to 2 MiB and advised huge, the same hash faults a few dozen times and runs
    /// about 30% faster, and its memory still goes back to the kernel when it ends.
    private static let mapMemory: allocate_fptr = { memory, bytes in
        guard let memory, bytes > 0 else { return ARGON2_MEMORY_ALLOCATION_ERROR.rawValue }
        let hugePage = 2 << 20
        let slack = bytes >= hugePage ? hugePage : 0
        let mapped = mmap(nil, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { return ARGON2_MEMORY_ALLOCATION_ERROR.rawValue }
        var start = mapped
        if slack > 0 {
            // Keep the 2 MiB-aligned `bytes` inside the mapping and hand the rest back, so that the
            // deallocator unmaps exactly what libargon2 got. Unmapping whole pages of a mapping
            // made just above cannot fail; were it to, the slack would stay mapped, unused.
            let address = UInt(bitPattern: mapped)
            let aligned = (address + UInt(hugePage) - 1) & ~(UInt(hugePage) - 1)
            let head = Int(aligned - address)
            if head > 0 { munmap(mapped, head) }
            if slack - head > 0 { munmap(mapped + head + bytes, slack - head) }
            start = mapped + head
            // Advice only: a kernel without transparent huge pages answers EINVAL, and the hash
            // runs on small pages as before.
            _ = madvise(start, bytes, MADV_HUGEPAGE)
        }
        memory.pointee = start.assumingMemoryBound(to: UInt8.self)
        return ARGON2_OK.rawValue
    }

    /// libargon2's deallocator: the pages back to the kernel (libargon2 has wiped them).
    private static let unmapMemory: deallocate_fptr = { memory, bytes in
        if let memory { munmap(memory, bytes) }
    }

    /// libargon2's message for a status `argon2_ctx` returned.
    public static func message(for status: Int32) -> String {
        String(cString: argon2_error_message(status))
    }
}
