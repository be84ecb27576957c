import COpenSSL

/// HMAC-SHA-256 (RFC 2104) from OpenSSL: what mixes a server-side secret, the pepper, into a
/// password before bcrypt sees it.
public enum KeyedHash {
    /// The 32-byte HMAC-SHA-256 of `message` under `key`.
    public static func sha256(key: [UInt8], message: [UInt8]) throws(BcryptError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let done = key.withUnsafeBufferPointer { keyBytes in
            message.withUnsafeBufferPointer { messageBytes in
                HMAC(
                    EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count), messageBytes.baseAddress,
                    messageBytes.count, &digest, &length)
            }
        }
        guard done != nil, length == 32 else { throw .hashingFailed(call: "HMAC", errno: 0) }
        return Array(digest.prefix(32))
    }
}
