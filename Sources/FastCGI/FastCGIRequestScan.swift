/// Whether the bytes a connection has sent so far hold one whole FastCGI request: its begin
/// record, its parameters and its body, each ended, and nothing after them.
///
/// libfcgi reads a request with blocking reads and no timeout, so a request thread is handed a
/// connection only once the scan says the whole request is already in the socket's buffer: no
/// read of libfcgi's can then wait on a slow or silent peer. The scan is strict on purpose.
/// Anything libfcgi would reject or answer on its own (another role, a management record, a
/// second request id, a malformed parameter) is `invalid` here, so that libfcgi never takes
/// its own error path, which closes a connection by reading from it for up to two seconds at
/// a time.
public struct FastCGIRequestScan: Sendable, Equatable {
    /// What the bytes hold.
    public enum Verdict: Sendable, Equatable {
        /// A prefix of a valid request: wait for more.
        case incomplete
        /// One whole request, exactly.
        case complete
        /// Not a request this server serves; the reason, for a log line.
        case invalid(String)
    }

    /// FastCGI record types (FastCGI specification, section 8).
    enum RecordType: UInt8 {
        case beginRequest = 1
        case abortRequest = 2
        case params = 4
        case stdin = 5
    }

    static let headerLength = 8
    static let responderRole: UInt16 = 1

    /// Scans `bytes` from a request's first byte.
    public static func scan(_ bytes: UnsafeRawBufferPointer) -> Verdict {
        var offset = 0
        var requestID: UInt16?
        var parametersEnded = false
        var parameters = ParameterScan()
        while true {
            guard bytes.count - offset >= headerLength else { return .incomplete }
            let version = bytes[offset]
            let type = bytes[offset + 1]
            let id = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
            let contentLength = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let recordLength = headerLength + contentLength + Int(bytes[offset + 6])
            guard version == 1 else { return .invalid("FastCGI version \(version)") }
            guard let recordType = RecordType(rawValue: type), recordType != .abortRequest else {
                return .invalid("record type \(type)")
            }
            guard id != 0 else { return .invalid("a management record") }
            let content = offset + headerLength
            let available = min(bytes.count - content, contentLength)
            switch recordType {
            case .beginRequest:
                guard requestID == nil else { return .invalid("a second begin record") }
                guard contentLength == 8 else { return .invalid("a begin record of \(contentLength) bytes") }
                guard available >= 2 else { return .incomplete }
                let role = UInt16(bytes[content]) << 8 | UInt16(bytes[content + 1])
                guard role == responderRole else { return .invalid("role \(role)") }
                requestID = id
            case .params, .stdin:
                guard let requestID else { return .invalid("a record before the begin record") }
                guard id == requestID else { return .invalid("a second request id") }
                if recordType == .params {
                    guard !parametersEnded else { return .invalid("parameters after their end") }
                    parameters.take(UnsafeRawBufferPointer(rebasing: bytes[content..<(content + available)]))
                    if contentLength == 0 {
                        guard parameters.isAtPairBoundary else { return .invalid("a parameter cut short") }
                        parametersEnded = true
                    }
                } else {
                    guard parametersEnded else { return .invalid("a body before the parameters' end") }
                    if contentLength == 0 {
                        guard bytes.count - offset >= recordLength else { return .incomplete }
                        return bytes.count - offset == recordLength ? .complete : .invalid("bytes after the request")
                    }
                }
            case .abortRequest:
                return .invalid("an abort record")
            }
            guard bytes.count - offset >= recordLength else { return .incomplete }
            offset += recordLength
        }
    }

    /// Name-value pairs (FastCGI specification, section 3.4) read across the parameter records'
    /// contents, checking only their lengths: a length of 1 byte, or of 4 with the top bit set.
    struct ParameterScan {
        /// Length bytes of the pair being read (up to 8), and how many of them are known.
        private var lengthBytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
        private var lengthCount = 0
        /// Bytes of the name and value still to skip.
        private var remaining = 0

        /// Whether the bytes so far end exactly at the end of a pair.
        var isAtPairBoundary: Bool { lengthCount == 0 && remaining == 0 }

        /// Takes the next part of the parameters.
        mutating func take(_ bytes: UnsafeRawBufferPointer) {
            var index = 0
            while index < bytes.count {
                if remaining > 0 {
                    let skipped = min(remaining, bytes.count - index)
                    remaining -= skipped
                    index += skipped
                    continue
                }
                withUnsafeMutableBytes(of: &lengthBytes) { $0[lengthCount] = bytes[index] }
                lengthCount += 1
                index += 1
                guard let (name, value) = lengths() else { continue }
                lengthCount = 0
                remaining = name + value
            }
        }

        /// Both lengths, once their bytes are all in.
        private func lengths() -> (name: Int, value: Int)? {
            withUnsafeBytes(of: lengthBytes) { raw -> (name: Int, value: Int)? in
                let known = lengthCount
                func length(at index: Int) -> (value: Int, next: Int)? {
                    guard index < known else { return nil }
                    if raw[index] & 0x80 == 0 { return (Int(raw[index]), index + 1) }
                    guard index + 4 <= known else { return nil }
                    let value =
                        Int(raw[index] & 0x7f) << 24 | Int(raw[index + 1]) << 16 | Int(raw[index + 2]) << 8
                        | Int(raw[index + 3])
                    return (value, index + 4)
                }
                guard let name = length(at: 0), let value = length(at: name.next) else { return nil }
                return (name.value, value.value)
            }
        }
    }
}
