import Foundation
import POSIXSupport
import Testing

@testable import LoopbackHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// The loopback client against a one-shot server on a real socket: what it sends, and every way
/// a response may end.
@Suite("LoopbackHTTPClient")
struct LoopbackHTTPClientTests {
    /// Serves one connection: reads the request head (and a body of `expectBody` bytes), answers
    /// `response`, then closes, or keeps the connection open when `keepOpen`. Returns the port and
    /// a way to get the request it read.
    static func serveOnce(_ response: String, keepOpen: Bool = false) throws -> (UInt16, () -> String) {
        let listener = try SocketEndpoint.tcp(host: "127.0.0.1", port: 0).listen(backlog: 1)
        let port = try listener.boundPort()
        let received = LockedText()
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { listener.close() }
            let raw = accept(listener.rawValue, nil, nil)
            guard raw >= 0 else {
                done.signal()
                return
            }
            let connection = FileDescriptor(adopting: raw)
            defer {
                connection.close()
                done.signal()
            }
            var request: [UInt8] = []
            while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                guard let chunk = try? connection.read(maximum: 4096), !chunk.isEmpty else { return }
                request += chunk
            }
            received.set(String(decoding: request, as: UTF8.self))
            try? connection.writeAll(Array(response.utf8))
            // Kept open past the client's read: it must stop by the message's own end.
            if keepOpen { Thread.sleep(forTimeInterval: 2) }
        }.start()
        return (
            port,
            {
                done.wait()
                return received.get()
            }
        )
    }

    final class LockedText: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func set(_ value: String) { lock.withLock { text = value } }
        func get() -> String { lock.withLock { text } }
    }

    @Test("a POST says its length and, unless told otherwise, JSON; the status, lower-cased headers and body come back")
    func postAndContentLength() throws {
        let (port, request) = try Self.serveOnce(
            "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Thing:  value \r\nContent-Type: text/plain\r\n\r\nhello")
        let response = try LoopbackHTTPClient(port: port, timeout: 5).request(
            "POST", "/api/hash", headers: [("Fullyloaded-Client", "u1")], body: Array(#"{"a":1}"#.utf8))
        #expect(response.status == 201 && response.text == "hello")
        #expect(response.headers["x-thing"] == "value" && response.headers["content-type"] == "text/plain")
        let sent = request()
        #expect(sent.hasPrefix("POST /api/hash HTTP/1.1\r\n"), "\(sent)")
        #expect(sent.contains("Content-Length: 7\r\n") && sent.contains("Content-Type: application/json\r\n"))
        #expect(sent.contains("Fullyloaded-Client: u1\r\n") && sent.contains("Connection: close\r\n"))
    }

    @Test("a chunked body is de-chunked, and read to its last chunk though the server keeps the connection")
    func chunked() throws {
        let (port, _) = try Self.serveOnce(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfull\r\n6;x=y\r\nyload!\r\n0\r\n\r\n",
            keepOpen: true)
        let started = Date()
        let response = try LoopbackHTTPClient(port: port, timeout: 5).request("GET", "/")
        #expect(response.text == "fullyload!")
        #expect(Date().timeIntervalSince(started) < 1, "it waited for the server to close")
    }

    @Test("without a length the body runs to the end of the connection; a HEAD answer has none")
    func toEndOfConnection() throws {
        let (port, _) = try Self.serveOnce("HTTP/1.1 200 OK\r\n\r\nuntil close")
        #expect(try LoopbackHTTPClient(port: port, timeout: 5).request("GET", "/").text == "until close")
        let (headPort, _) = try Self.serveOnce("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", keepOpen: true)
        let head = try LoopbackHTTPClient(port: headPort, timeout: 5).request("HEAD", "/")
        #expect(head.status == 200 && head.body.isEmpty)
    }

    @Test("garbage instead of a response, and nothing listening, are errors; status(of:) is nil for both")
    func failures() throws {
        let (port, _) = try Self.serveOnce("not http at all")
        #expect(throws: SystemCallError.self) { try LoopbackHTTPClient(port: port, timeout: 5).request("GET", "/") }
        let closed = try LoopbackPort.ephemeral()
        #expect(LoopbackHTTPClient(port: closed, timeout: 1).status(of: "/") == nil)
    }

    @Test("the parser on its own: status line, repeated headers keep the last, a truncated head is nil")
    func parser() {
        let response = LoopbackHTTPClient.parse(Array("HTTP/1.1 503 Busy\r\nA: 1\r\na: 2\r\n\r\nbody".utf8))
        #expect(response?.status == 503 && response?.headers["a"] == "2" && response?.text == "body")
        #expect(LoopbackHTTPClient.parse(Array("HTTP/1.1 200 OK\r\nA: 1\r\n".utf8)) == nil)
        #expect(LoopbackHTTPClient.parse(Array("HTTP/1.1 abc\r\n\r\n".utf8)) == nil)
        #expect(LoopbackHTTPClient.dechunk(Array("3\r\nabc\r\nzz\r\n".utf8)) == Array("abc".utf8))
    }
}
