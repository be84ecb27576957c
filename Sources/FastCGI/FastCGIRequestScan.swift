/// Whether bytes received on a FastCGI connection hold one whole responder request, as nginx
/// sends it: `BEGIN_REQUEST` (role responder), `PARAMS` records up to an empty one, `STDIN`
/// records up to an empty one, all with the same request id.
///
/// A request thread is given a connection only once this says `complete`, so that libfcgi's
/// blocking reads never wait on a peer: everything it reads is already in the socket. Anything
/// else nginx never sends (management records, other roles, a second request id, name-value
/// pairs that do not add up) is `invalid`, and the connection is closed unread by libfcgi, whose
/// answer to a bad request is to read on.
public struct FastCGIRequestScan: Sendable, Equatable {
    /// What the bytes are.
    public enum Outcome: Sendable, Equatable {
        /// One whole request, `length` bytes, records and padding included.
        case complete(length: Int)
        /// A valid beginning: more bytes are needed.
        case incomplete
        /// Not a request this server serves.
        case invalid(reason: String)
    }

    /// The most a request may take, records, parameters and body together. nginx's parameters
    /// take about 1 KiB; the body is at most `client_max_body_size` (16 KiB).
    public static let maximumRequestBytes = 64 * 1024

    private static let headerLength = 8
    private static let version: UInt8 = 1
    private static let beginRequest: UInt8 = 1
    private static let params: UInt8 = 4
    private static let stdin: UInt8 = 5
    private static let responder: UInt16 = 1

    /// Scans `bytes`, the start of what the connection has sent.
    public static func scan(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        var offset = 0
        var requestID: UInt16 = 0
        var stage = Stage.begin
        var pairs = NameValuePairs()
        while true {
            guard bytes.count - offset >= headerLength else { return shortOutcome(bytes) }
            let version = bytes[offset]
            let type = bytes[offset + 1]
            let id = UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3])
            let contentLength = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let recordLength = headerLength + contentLength + Int(bytes[offset + 6])
            guard version == Self.version else { return .invalid(reason: "FastCGI version \(version)") }
            switch stage {
            case .begin:
                guard type == beginRequest, id != 0, contentLength == 8 else {
                    return .invalid(reason: "the first record is not BEGIN_REQUEST")
                }
                requestID = id
            case .params, .stdin:
                guard id == requestID else { return .invalid(reason: "a record of another request id") }
                guard type == (stage == .params ? params : stdin) else {
                    return .invalid(
                        reason: "record type \(type) where \(stage == .params ? "PARAMS" : "STDIN") was due")
                }
            }
            guard bytes.count - offset >= recordLength else { return shortOutcome(bytes) }
            let content = UnsafeRawBufferPointer(
                rebasing: bytes[(offset + headerLength)..<(offset + headerLength + contentLength)])
            offset += recordLength
            switch stage {
            case .begin:
                let role = UInt16(content[0]) << 8 | UInt16(content[1])
                guard role == responder else { return .invalid(reason: "FastCGI role \(role)") }
                stage = .params
            case .params:
                if contentLength == 0 {
                    guard pairs.isWhole else { return .invalid(reason: "parameters that do not add up") }
                    stage = .stdin
                } else {
                    pairs.feed(content)
                }
            case .stdin:
                if contentLength == 0 { return .complete(length: offset) }
            }
        }
    }

    /// A valid beginning too short to judge: incomplete while it could still fit.
    private static func shortOutcome(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        bytes.count >= maximumRequestBytes
            ? .invalid(reason: "a request of more than \(maximumRequestBytes) bytes") : .incomplete
    }

    private enum Stage { case begin, params, stdin }

    /// FastCGI name-value pairs read a byte at a time across records: each is a name length and a
    /// value length (one byte below 128, else four with the top bit set) and that many bytes.
    private struct NameValuePairs {
        /// A four-byte length being read, and how many of its bytes are in (0: none begun).
        private var partial = 0
        private var partialBytes = 0
        /// The pair's name length, once read, while its value length is still to come.
        private var nameLength = -1
        /// Name and value bytes still to come.
        private var toSkip = 0

        /// Whether the bytes so far end on a pair's last byte.
        var isWhole: Bool { partialBytes == 0 && nameLength < 0 && toSkip == 0 }

        mutating func feed(_ bytes: UnsafeRawBufferPointer) {
            var index = 0
            while index < bytes.count {
                if toSkip > 0 {
                    let skipped = min(toSkip, bytes.count - index)
                    toSkip -= skipped
                    index += skipped
                    continue
                }
                let byte = bytes[index]
                index += 1
                let length: Int
                if partialBytes == 0 {
                    guard byte & 0x80 != 0 else {
                        length = Int(byte)
                        finish(length)
                        continue
                    }
                    partial = Int(byte & 0x7f)
                    partialBytes = 1
                    continue
                }
                partial = partial << 8 | Int(byte)
                partialBytes += 1
                guard partialBytes == 4 else { continue }
                partialBytes = 0
                finish(partial)
            }
        }

        private mutating func finish(_ length: Int) {
            if nameLength < 0 {
                nameLength = length
            } else {
                toSkip = nameLength + length
                nameLength = -1
            }
        }
    }
}
