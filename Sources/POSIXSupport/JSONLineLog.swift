#if canImport(Glibc)
    import Glibc
#endif

/// Writes one JSON object per line to standard error: time, component, pid, event, and fields.
public struct JSONLineLog: Sendable {
    private let component: String

    /// Creates a log for a component (`worker`, `up`, …).
    public init(component: String) {
        self.component = component
    }

    /// Logs `event` with extra fields.
    public func event(_ event: String, _ fields: [(String, JSONText.Value)] = []) {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let seconds = Double(time.tv_sec) + Double(time.tv_nsec / 1_000_000) / 1000
        var members: [(String, JSONText.Value)] = [
            ("time", .double(seconds)), ("component", .string(component)), ("pid", .int(Int(getpid()))),
            ("event", .string(event)),
        ]
        members += fields
        let line = JSONText.object(members) + [UInt8(ascii: "\n")]
        // One write(2) per line keeps lines from several threads and processes whole.
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

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
