/// Why a password could not be hashed or verified.
public enum BcryptError: Error, Equatable, Sendable {
    /// bcrypt reads at most 72 bytes; longer passwords are refused rather than silently truncated.
    case passwordTooLong(byteCount: Int)
    /// bcrypt stops at the first NUL byte; such passwords are refused rather than silently truncated.
    case passwordContainsNUL
    /// The cost is outside what bcrypt (4...31) or the caller allows.
    case costOutOfRange(cost: Int, allowed: ClosedRange<Int>)
    /// The text is not a `$2a$`/`$2b$`/`$2y$` bcrypt hash.
    case malformedHash
    /// The system's random source failed to give salt bytes.
    case randomSourceFailed
    /// libxcrypt refused the input (`crypt_rn` or `crypt_gensalt_rn` returned NULL).
    case hashingFailed(call: String, errno: Int32)
}
