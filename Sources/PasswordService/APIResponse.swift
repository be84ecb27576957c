/// A response in CGI form: a status line for nginx, headers, and a JSON body.
public struct APIResponse: Sendable, Equatable {
    /// The HTTP status code.
    public var status: Int
    /// Extra headers besides `Content-Type`, `Content-Length` and `Cache-Control`.
    public var headers: [Header]
    /// The body bytes (JSON).
    public var body: [UInt8]

    /// One header line.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Creates a JSON response.
    public init(status: Int, headers: [Header] = [], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The bytes a CGI-style responder writes: `Status:` and headers, a blank line, the body.
    public var cgiBytes: [UInt8] {
        var head = "Status: \(status) \(Self.reason(for: status))\r\n"
        // Answers are about one request (a hash, a match, a refusal now): no cache may keep them.
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\nCache-Control: no-store\r\n"
        for header in headers { head += "\(header.name): \(header.value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    static func reason(for status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Payload Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
