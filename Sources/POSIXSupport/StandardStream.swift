#if canImport(Glibc)
    import Glibc
#endif

/// Writes text to standard output or standard error without trapping when the reader is gone
/// (FileHandle.write traps on EPIPE).
public enum StandardStream {
    case output
    case error

    /// Writes `text` with one write(2).
    public func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(self == .output ? 1 : 2, $0.baseAddress, $0.count) }
    }
}
