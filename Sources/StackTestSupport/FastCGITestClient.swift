import Foundation

/// libfcgi's own client, `cgi-fcgi -bind -connect`, for driving a FastCGI server without nginx.
public enum FastCGITestClient {
    /// Sends one request with the CGI `environment` and `body` to the FastCGI socket `socket`;
    /// returns what the server wrote (CGI headers, a blank line, the body), or nothing if no
    /// answer came within `timeout` seconds: a test fails rather than hangs.
    public static func request(
        socket: String, environment: [String: String], body: String = "", timeout: Int = 30
    ) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", "\(timeout)", "/usr/bin/cgi-fcgi", "-bind", "-connect", socket]
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
