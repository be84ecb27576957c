import Foundation
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

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

/// FastCGI records written by hand, for tests that send what nginx sends — or what it never would.
public enum FastCGIRecords {
    /// Record types used here.
    public static let beginRequest: UInt8 = 1
    public static let params: UInt8 = 4
    public static let stdin: UInt8 = 5
    public static let getValues: UInt8 = 9

    /// One record: header, content, no padding.
    public static func record(type: UInt8, id: UInt16, content: [UInt8] = []) -> [UInt8] {
        precondition(content.count <= 0xffff)
        return [
            1, type, UInt8(id >> 8), UInt8(id & 0xff), UInt8(content.count >> 8), UInt8(content.count & 0xff), 0, 0,
        ]
            + content
    }

    /// A name-value pair in FastCGI's encoding (lengths of one or four bytes).
    public static func pair(_ name: String, _ value: String) -> [UInt8] {
        func length(_ count: Int) -> [UInt8] {
            count < 128
                ? [UInt8(count)]
                : [
                    UInt8(0x80 | (count >> 24) & 0x7f), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff),
                    UInt8(count & 0xff),
                ]
        }
        return length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
    }

    /// A whole responder request as nginx sends it.
    public static func request(
        id: UInt16 = 1, role: UInt16 = 1, keepConnection: Bool, parameters: [(String, String)], body: [UInt8] = []
    ) -> [UInt8] {
        var bytes = record(
            type: beginRequest, id: id,
            content: [UInt8(role >> 8), UInt8(role & 0xff), keepConnection ? 1 : 0, 0, 0, 0, 0, 0])
        let pairs =
            parameters.flatMap { pair($0.0, $0.1) } + [("CONTENT_LENGTH", "\(body.count)")].flatMap { pair($0.0, $0.1) }
        bytes += record(type: params, id: id, content: pairs) + record(type: params, id: id)
        if !body.isEmpty { bytes += record(type: stdin, id: id, content: body) }
        return bytes + record(type: stdin, id: id)
    }
}

/// A raw FastCGI connection over a unix socket, driven byte by byte by a test.
public final class FastCGIConnection: @unchecked Sendable {
    private let descriptor: FileDescriptor

    /// Connects to the unix socket at `path`; reads and writes give up after `timeout` seconds.
    public init(unixPath path: String, timeout: Double = 5) throws {
        descriptor = try SocketEndpoint.unix(path: path).connect(timeout: timeout)
    }

    deinit { descriptor.close() }

    /// Writes `bytes` (all of them, or throws).
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw SystemCallError(call: "send", errno: errno) }
            offset += written
        }
    }

    /// Reads records up to FCGI_END_REQUEST and returns the STDOUT content as text; `nil` if the
    /// connection closed or the read timed out first.
    public func readResponse() -> String? {
        var output: [UInt8] = []
        while true {
            guard let header = read(exactly: 8) else { return nil }
            let length = Int(header[4]) << 8 | Int(header[5])
            guard let content = read(exactly: length + Int(header[6])) else { return nil }
            if header[1] == 6 { output += content.prefix(length) }
            if header[1] == 3 { return String(decoding: output, as: UTF8.self) }
        }
    }

    /// Whether the server closes the connection (end of file, or reset) before `seconds` pass.
    public func closedByPeer(within seconds: Double) -> Bool {
        var waiting = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&waiting, 1, Int32(seconds * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        return Glibc.recv(descriptor.rawValue, &byte, 1, Int32(MSG_DONTWAIT)) <= 0
    }

    private func read(exactly count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = bytes[offset...].withUnsafeMutableBytes {
                Glibc.read(descriptor.rawValue, $0.baseAddress, $0.count)
            }
            guard got > 0 else { return nil }
            offset += got
        }
        return bytes
    }
}
