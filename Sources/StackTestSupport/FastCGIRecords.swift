/// FastCGI records built by hand, for tests that speak the protocol byte by byte: whole
/// requests, cut ones, and ones a server must not take.
public enum FastCGIRecords {
    /// Record types (FastCGI specification, section 8).
    public static let beginRequest: UInt8 = 1
    public static let abortRequest: UInt8 = 2
    public static let params: UInt8 = 4
    public static let stdin: UInt8 = 5
    public static let getValues: UInt8 = 9

    /// One record: an 8-byte header, the content, and `padding` zero bytes.
    public static func record(
        type: UInt8, id: UInt16 = 1, content: [UInt8] = [], padding: UInt8 = 0, version: UInt8 = 1
    ) -> [UInt8] {
        let length = UInt16(content.count)
        return [version, type, UInt8(id >> 8), UInt8(id & 0xff), UInt8(length >> 8), UInt8(length & 0xff), padding, 0]
            + content + [UInt8](repeating: 0, count: Int(padding))
    }

    /// A begin record: the role (1, responder) and whether the connection is kept.
    public static func begin(id: UInt16 = 1, role: UInt16 = 1, keep: Bool = false) -> [UInt8] {
        record(
            type: beginRequest, id: id, content: [UInt8(role >> 8), UInt8(role & 0xff), keep ? 1 : 0, 0, 0, 0, 0, 0])
    }

    /// Name-value pairs as the parameters' content: lengths of one byte, or four from 128 on.
    public static func pairs(_ parameters: [(String, String)]) -> [UInt8] {
        func length(_ count: Int) -> [UInt8] {
            count < 128
                ? [UInt8(count)]
                : [
                    UInt8(0x80 | (count >> 24)), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff),
                    UInt8(count & 0xff),
                ]
        }
        return parameters.flatMap { name, value in
            length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
        }
    }

    /// Content cut into records of at most `size` bytes each, then the empty record that ends it.
    public static func stream(type: UInt8, id: UInt16 = 1, _ content: [UInt8], size: Int = 65_535) -> [UInt8] {
        var bytes: [UInt8] = []
        var offset = 0
        while offset < content.count {
            let end = min(content.count, offset + size)
            bytes += record(type: type, id: id, content: Array(content[offset..<end]), padding: UInt8(end % 8))
            offset = end
        }
        return bytes + record(type: type, id: id)
    }

    /// A whole responder request: begin, parameters, body.
    public static func request(
        _ parameters: [(String, String)], body: [UInt8] = [], id: UInt16 = 1, keep: Bool = false, size: Int = 65_535
    ) -> [UInt8] {
        begin(id: id, keep: keep) + stream(type: params, id: id, pairs(parameters), size: size)
            + stream(type: stdin, id: id, body, size: size)
    }
}
