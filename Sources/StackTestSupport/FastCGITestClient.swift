import Foundation
import POSIXSupport

/// libfcgi's own client, `cgi-fcgi -bind -connect`, for driving a FastCGI server without nginx.
public enum FastCGITestClient {
    /// Sends one request with the CGI `environment` and `body` to the FastCGI socket `socket`;
    /// returns what the server wrote (CGI headers, a blank line, the body).
    public static func request(socket: String, environment: [String: String], body: String = "") throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/cgi-fcgi")
        process.arguments = ["-bind", "-connect", socket]
        process.environment = environment.merging(["CONTENT_LENGTH": "\(body.utf8.count)"]) { given, _ in given }
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(body.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The same for the password API: `method` and `uri` as nginx passes them.
    public static func request(socket: String, method: String, uri: String, body: String = "") throws -> String {
        var environment = ["REQUEST_METHOD": method, "REQUEST_URI": uri]
        if method == "POST" { environment["CONTENT_TYPE"] = "application/json" }
        return try request(socket: socket, environment: environment, body: body)
    }
}

extension FastCGITestClient {
    /// Sends raw FastCGI bytes over a new connection and returns everything the server sent
    /// until it closed (or reset) the connection; past `timeout` the read fails.
    public static func exchange(_ endpoint: SocketEndpoint, _ bytes: [UInt8], timeout: Double) throws -> [UInt8] {
        let connection = try endpoint.connect(timeout: timeout)
        defer { connection.close() }
        try connection.setTimeouts(seconds: timeout)
        try connection.writeAll(bytes)
        var received: [UInt8] = []
        while true {
            let result = Result { () throws(SystemCallError) in try connection.read(maximum: 65_536) }
            // Closed with our bytes unread (a reset) is the end too.
            if case .failure(let error) = result, error.errno == ECONNRESET { return received }
            let chunk = try result.get()
            if chunk.isEmpty { return received }
            received += chunk
        }
    }

    /// The STDOUT records' contents in what a FastCGI server sent.
    public static func standardOutput(of bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        var offset = 0
        while bytes.count - offset >= 8 {
            let length = Int(bytes[offset + 4]) << 8 | Int(bytes[offset + 5])
            let end = offset + 8 + length
            guard end <= bytes.count else { break }
            if bytes[offset + 1] == 6 { output += bytes[(offset + 8)..<end] }
            offset = end + Int(bytes[offset + 6])
        }
        return String(decoding: output, as: UTF8.self)
    }
}
