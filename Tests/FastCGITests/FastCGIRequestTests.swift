import CFastCGI
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

@testable import FastCGI

/// What a request leaves of its body in memory libfcgi owns.
@Suite("FastCGIRequest", .serialized)
struct FastCGIRequestTests {
    /// Whether `marker` is in libfcgi's input buffer of `request`, between its start and the end
    /// of what was read (the stream's public pointers).
    static func bufferHolds(_ marker: [UInt8], _ request: borrowing FastCGIRequest) -> Bool {
        guard let stream = request.raw.pointee.in, let start = stream.pointee.stopUnget, let end = stream.pointee.stop,
            end > start
        else { return false }
        let bytes = UnsafeBufferPointer(start: start, count: end - start)
        return bytes.indices.contains { index in
            index + marker.count <= bytes.count && marker.indices.allSatisfy { bytes[index + $0] == marker[$0] }
        }
    }

    @Test("the body's records are wiped from libfcgi's input buffer once read")
    func inputBufferWiped() throws {
        let marker = Array("correct horse battery staple".utf8)
        let seen = Mutex<(before: Bool, after: Bool)?>(nil)
        let path = try TestFiles.makeTemporaryDirectory(prefix: "fl-fcgi") + "/s.sock"
        let listener = try SocketEndpoint.unix(path: path).listen(backlog: 16)
        let server = try FastCGIServer(listener: listener, threadCount: 1) {
            { request in
                _ = request.readBody(keepingAtMost: 100)
                let before = Self.bufferHolds(marker, request)
                request.wipeInputBuffer()
                let after = Self.bufferHolds(marker, request)
                seen.withLock { $0 = (before, after) }
                request.write(Array("Content-Type: text/plain\r\n\r\nok".utf8))
            }
        }
        try server.start()
        defer { _ = server.stop(grace: 1) }
        let client = try FastCGIConnection(unixPath: path, timeout: 3)
        try client.send(
            FastCGIRecords.request(keepConnection: false, parameters: [("REQUEST_METHOD", "POST")], body: marker))
        #expect(client.readResponse()?.hasSuffix("ok") == true)
        let result = try #require(seen.withLock { $0 })
        #expect(result.before, "the body was in the buffer before the wipe (the check can see it)")
        #expect(!result.after, "the body is gone from the buffer after the wipe")
    }
}
