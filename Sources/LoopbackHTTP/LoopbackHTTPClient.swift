import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP response as read off the wire.
public struct HTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header names in lower case, values as sent (a repeated header keeps its last value).
    public var headers: [String: String]
    /// The body, de-chunked.
    public var body: [UInt8]

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP/1.1 client for loopback: one request per connection, for readiness probes,
/// the monitor's ping probe and tests. Not a general client: no TLS, no redirects.
public struct LoopbackHTTPClient: Sendable {
    /// Where to connect.
    public var endpoint: SocketEndpoint
    /// Connect, send and receive timeout in seconds.
    public var timeout: Double

    /// Creates a client for `endpoint`.
    public init(endpoint: SocketEndpoint, timeout: Double = 10) {
        self.endpoint = endpoint
        self.timeout = timeout
    }

    /// Creates a client for 127.0.0.1:`port`.
    public init(port: UInt16, timeout: Double = 10) {
        self.init(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: timeout)
    }

    /// Sends one request and reads the whole response.
    public func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []
    ) throws(SystemCallError) -> HTTPResponse {
        let socket = try endpoint.connect(timeout: timeout)
        defer { socket.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        // The API takes JSON bodies only, declared so; a caller may say otherwise.
        if method == "POST", !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            head += "Content-Type: application/json\r\n"
        }
        head += "\r\n"
        try socket.writeAll(Array(head.utf8) + body)
        var received: [UInt8] = []
        // Read to the end of the message: by Content-Length, by the last chunk, or to EOF. Some
        // servers (chromedriver) keep the connection open whatever the request said.
        while !Self.isComplete(received, method: method) {
            let chunk = try socket.read(maximum: 65536)
            if chunk.isEmpty { break }
            received += chunk
        }
        guard let response = Self.parse(received) else {
            throw SystemCallError(call: "HTTP response from \(endpoint)", errno: EBADMSG)
        }
        return response
    }

    /// A GET of a JSON-free path that only needs the status; `nil` if nothing answered.
    public func status(of path: String) -> Int? {
        try? request("GET", path).status
    }

    static func isComplete(_ bytes: [UInt8], method: String) -> Bool {
        guard let headEnd = bytes.firstRange(of: [13, 10, 13, 10]) else { return false }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self).lowercased()
        let bodyLength = bytes.count - headEnd.upperBound
        if method == "HEAD" || head.hasPrefix("http/1.1 204") || head.hasPrefix("http/1.1 304") { return true }
        for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
            return bodyLength >= Int(line.dropFirst(15).trimmingCharacters(in: " ")) ?? Int.max
        }
        if head.contains("transfer-encoding: chunked") {
            return bytes[headEnd.upperBound...].firstRange(of: Array("\r\n0\r\n\r\n".utf8)) != nil
                || bytes[headEnd.upperBound...].starts(with: Array("0\r\n\r\n".utf8))
        }
        return false
    }

    static func parse(_ bytes: [UInt8]) -> HTTPResponse? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.firstRange(of: separator) else { return nil }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: " ")
        }
        var body = Array(bytes[headEnd.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = dechunk(body)
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { break }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            let end = min(bytes.count, start + size)
            output += bytes[start..<end]
            index = end + 2
        }
        return output
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}
