import Foundation
import POSIXSupport

/// A minimal WebSocket client for tests: the HTTP/1.1 upgrade, then text frames read off the
/// socket (servers do not mask frames). Enough to check what nginx and the monitor send.
public final class WebSocketTestClient {
    private let socket: FileDescriptor
    private var buffer: [UInt8] = []
    /// The status line and headers of the upgrade response.
    public let status: Int
    public let headers: [String: String]

    /// Connects to 127.0.0.1:`port` and asks to upgrade `path`.
    public init(port: UInt16, path: String, timeout: Double = 5) throws {
        socket = try SocketEndpoint.tcp(host: "127.0.0.1", port: port).connect(timeout: timeout)
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let request =
            "GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try socket.writeAll(Array(request.utf8))
        while buffer.firstRange(of: [13, 10, 13, 10]) == nil {
            let chunk = try socket.read(maximum: 4096)
            if chunk.isEmpty { break }
            buffer += chunk
        }
        guard let end = buffer.firstRange(of: [13, 10, 13, 10]) else {
            throw SystemCallError(call: "WebSocket upgrade", errno: EPROTO)
        }
        let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        buffer.removeSubrange(..<end.upperBound)
        status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        self.headers = headers
    }

    deinit { socket.close() }

    /// Sends a short text message, masked as a client must.
    public func sendText(_ text: String) throws {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        let masked = payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try socket.writeAll([0x81, 0x80 | UInt8(payload.count)] + mask + masked)
    }

    /// The next text message; control frames are skipped.
    public func nextText() throws -> String {
        while true {
            let (opcode, payload) = try nextFrame()
            if opcode == 1 { return String(decoding: payload, as: UTF8.self) }
            if opcode == 8 { throw SystemCallError(call: "WebSocket closed by server", errno: ECONNRESET) }
        }
    }

    private func need(_ count: Int) throws {
        while buffer.count < count {
            let chunk = try socket.read(maximum: 65536)
            if chunk.isEmpty { throw SystemCallError(call: "WebSocket read", errno: ECONNRESET) }
            buffer += chunk
        }
    }

    private func nextFrame() throws -> (opcode: UInt8, payload: [UInt8]) {
        try need(2)
        let opcode = buffer[0] & 0x0f
        var length = Int(buffer[1] & 0x7f)
        var offset = 2
        if length == 126 {
            try need(4)
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            try need(10)
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        try need(offset + length)
        let payload = Array(buffer[offset..<(offset + length)])
        buffer.removeSubrange(..<(offset + length))
        return (opcode, payload)
    }
}
