import JSONWriting
import Logging
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler writing one JSON object per line: time, level, component, pid, event and
/// the metadata, numbers kept as numbers.
///
/// Every line is one `write(2)`, so lines from many threads and processes sharing a log file
/// stay whole.
public struct JSONLogHandler: LogHandler {
    /// Where finished lines go.
    public typealias Sink = @Sendable ([UInt8]) -> Void

    /// Writes a line to standard error.
    public static let standardError: Sink = { line in
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// The component: the logger's label (`worker`, `up`, `monitor`).
    public let label: String
    /// Metadata every line of this logger carries.
    public var metadata: Logger.Metadata = [:]
    /// Lines below this level are dropped.
    public var logLevel: Logger.Level = .info
    private let sink: Sink

    /// Creates a handler for `label` writing to `sink` (standard error by default).
    public init(label: String, sink: @escaping Sink = JSONLogHandler.standardError) {
        self.label = label
        self.sink = sink
    }

    /// Makes every `Logger` of the process write JSON lines to standard error.
    public static func bootstrap(level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var members: [(String, JSONText.Value)] = [
            ("time", .double(Self.wallClockSeconds())), ("level", .string(event.level.rawValue)),
            ("component", .string(label)), ("pid", .int(Int(getpid()))), ("event", .string(event.message.description)),
        ]
        // Fixed members first, then the logger's metadata, then the line's, each key once.
        var merged = metadata
        if let lineMetadata = event.metadata { merged.merge(lineMetadata) { $1 } }
        for key in merged.keys.sorted() where !["time", "level", "component", "pid", "event"].contains(key) {
            members.append((key, Self.value(of: merged[key]!)))
        }
        sink(JSONText.object(members) + [UInt8(ascii: "\n")])
    }

    static func value(of metadata: Logger.Metadata.Value) -> JSONText.Value {
        switch metadata {
        case .string(let string): return .string(string)
        case .stringConvertible(let value):
            switch value {
            case let int as Int: return .int(int)
            case let int as Int32: return .int(Int(int))
            case let double as Double: return .double(double)
            case let bool as Bool: return .bool(bool)
            default: return .string(value.description)
            }
        case .array, .dictionary: return .string(metadata.description)
        }
    }

    private static func wallClockSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        // Milliseconds: enough to order lines, and short.
        return Double(time.tv_sec) + Double(time.tv_nsec / 1_000_000) / 1000
    }
}
