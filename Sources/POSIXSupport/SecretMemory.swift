#if canImport(Glibc)
    import Glibc
#endif

/// Wiping memory that held a secret (a password from a request body).
public enum SecretMemory {
    /// Overwrites `bytes` with zeros through explicit_bzero(3), which the optimiser may not drop
    /// as a store to memory about to be freed.
    public static func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        explicit_bzero(base, bytes.count)
    }
}
