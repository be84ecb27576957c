import COpenSSL

extension Array where Element == UInt8 {
    /// Overwrites every byte with zero through a call the optimiser may not drop (a request body
    /// holds a password in the clear). A copy this array shares storage with is wiped too; copies
    /// made before (a decoder's) are not.
    public mutating func wipe() {
        withUnsafeMutableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            OPENSSL_cleanse(base, bytes.count)
        }
    }
}
