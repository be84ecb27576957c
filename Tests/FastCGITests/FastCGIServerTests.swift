import FastCGI
import Foundation
import POSIXSupport
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The binding driven by a real FastCGI client: `cgi-fcgi` from libfcgi-bin.
@Suite("FastCGIServer", .serialized)
struct FastCGIServerTests {
    func makeServer(threads: Int = 4, handler: @escaping @Sendable (borrowing FastCGIRequest) -> Void) throws -> (
        FastCGIServer, String
    ) {
        let path = try TestFiles.makeTemporaryDirectory(prefix: "fl-fcgi") + "/s.sock"
        let listener = try SocketEndpoint.unix(path: path).listen(backlog: 64)
        let server = try FastCGIServer(listener: listener, threadCount: threads) { { request in handler(request) } }
        try server.start()
        return (server, path)
    }

    @Test("passes parameters and the body, and sends the response back")
    func echo() throws {
        let (server, path) = try makeServer { request in
            let body = request.readBody(keepingAtMost: 100)
            let method = request.parameter("REQUEST_METHOD") ?? "?"
            let text =
                "Content-Type: text/plain\r\n\r\n\(method) \(request.parameter("X_MISSING") == nil) \(body.totalLength) \(String(decoding: body.bytes, as: UTF8.self))"
            request.write(Array(text.utf8))
        }
        defer { _ = server.stop(grace: 1) }
        let output = try FastCGITestClient.request(socket: path, environment: ["REQUEST_METHOD": "POST"], body: "hello")
        #expect(output.hasSuffix("POST true 5 hello"), "\(output)")
    }

    @Test("keeps at most the limit of a body but reads it all")
    func bodyLimit() throws {
        let (server, path) = try makeServer { request in
            let body = request.readBody(keepingAtMost: 3)
            request.write(Array("Content-Type: text/plain\r\n\r\n\(body.bytes.count)/\(body.totalLength)".utf8))
        }
        defer { _ = server.stop(grace: 1) }
        let output = try FastCGITestClient.request(
            socket: path, environment: ["REQUEST_METHOD": "POST"], body: String(repeating: "z", count: 10_000))
        #expect(output.hasSuffix("3/10000"), "\(output)")
    }

    @Test("answers requests on several threads at once")
    func concurrency() throws {
        let inside = ConcurrencyCounter()
        let (server, path) = try makeServer(threads: 4) { request in
            let now = inside.enter()
            usleep(200_000)
            inside.leave()
            request.write(Array("Content-Type: text/plain\r\n\r\n\(now)".utf8))
        }
        defer { _ = server.stop(grace: 1) }
        concurrently(4) { _ in _ = try? FastCGITestClient.request(socket: path, environment: ["REQUEST_METHOD": "GET"])
        }
        #expect(inside.peak == 4, "four requests were inside the handler at once")
    }

    @Test("stop waits for a request in flight, and returns once every request thread has ended")
    func stopDrains() throws {
        let finished = ConcurrencyCounter()
        let (server, path) = try makeServer(threads: 3) { request in
            usleep(300_000)
            request.write(Array("Content-Type: text/plain\r\n\r\ndone".utf8))
            finished.enter()
        }
        let client = Thread { _ = try? FastCGITestClient.request(socket: path, environment: ["REQUEST_METHOD": "GET"]) }
        client.start()
        var waited = 0
        while server.requestsInFlight == 0, waited < 200 {
            usleep(10_000)
            waited += 1
        }
        #expect(server.requestsInFlight == 1)
        #expect(server.threadsRunning == 3)
        #expect(server.stop(grace: 5))
        #expect(finished.count == 1, "the request in flight finished before stop returned")
        #expect(server.threadsRunning == 0, "every thread left accept and ended")
        let late = try? SocketEndpoint.unix(path: path).connect(timeout: 1)
        late?.close()
        #expect(late == nil, "no longer accepting")
    }
}

@Suite("FastCGIServer on TCP", .serialized)
struct FastCGIServerPeerTests {
    func serve(allowing peers: [AddressRange]) throws -> (FastCGIServer, String, ConcurrencyCounter) {
        let port = try LoopbackPort.ephemeral()
        let listener = try SocketEndpoint.tcp(host: "127.0.0.1", port: port).listen(backlog: 16)
        let handled = ConcurrencyCounter()
        let server = try FastCGIServer(listener: listener, threadCount: 2, allowedPeers: peers) {
            { request in
                handled.enter()
                request.write(Array("Content-Type: text/plain\r\n\r\nserved".utf8))
            }
        }
        try server.start()
        return (server, "127.0.0.1:\(port)", handled)
    }

    @Test("a peer outside the allowed addresses is closed unanswered, and counted; the handler never runs")
    func foreignPeerRefused() throws {
        let (server, address, handled) = try serve(allowing: [AddressRange(parsing: "192.0.2.0/24")!])
        defer { _ = server.stop(grace: 1) }
        for _ in 0..<3 {
            let output = try FastCGITestClient.request(socket: address, environment: ["REQUEST_METHOD": "GET"])
            #expect(!output.contains("served"), "\(output)")
        }
        #expect(server.peersRefused == 3)
        #expect(handled.count == 0)
    }

    @Test("an allowed peer is served over the same path")
    func allowedPeerServed() throws {
        let (server, address, handled) = try serve(allowing: [AddressRange(parsing: "127.0.0.1")!])
        defer { _ = server.stop(grace: 1) }
        let output = try FastCGITestClient.request(socket: address, environment: ["REQUEST_METHOD": "GET"])
        #expect(output.hasSuffix("served"), "\(output)")
        #expect(server.peersRefused == 0 && handled.count == 1)
    }
}

/// Peers that connect and send nothing, or a byte at a time: they hold descriptors, never a
/// request thread, and are closed at the request deadline.
@Suite("FastCGIServer against silent and slow peers", .serialized)
struct FastCGIServerSlowPeerTests {
    static let request = FastCGIRecords.request([("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/")])

    // Both ends of every connection live in this process, so it stays under the 1024 descriptors
    // a worker hands to libfcgi (the stack's own test opens 600 against a worker).
    @Test("300 silent connections and 50 dribbling a byte at a time leave two threads free for every request")
    func silentAndDribbling() throws {
        let path = try TestFiles.makeTemporaryDirectory(prefix: "fl-fcgi") + "/s.sock"
        let endpoint = SocketEndpoint.unix(path: path)
        let server = try FastCGIServer(listener: try endpoint.listen(backlog: 1024), threadCount: 2) {
            { request in request.write(Array("Content-Type: text/plain\r\n\r\nserved".utf8)) }
        }
        try server.start()
        defer { _ = server.stop(grace: 1) }

        let silent = try (0..<300).map { _ in try endpoint.connect(timeout: 2) }
        defer { for connection in silent { connection.close() } }
        let dribblers = try (0..<50).map { _ in try endpoint.connect(timeout: 2) }
        defer { for connection in dribblers { connection.close() } }
        let started = MonotonicClock.now
        let dribbling = Thread {
            // A valid request's bytes, one per connection every 20 ms: 50 bytes a second per connection is far
            // faster than the one byte a second of a patient attacker, and still never a whole request in time.
            for index in 0..<Self.request.count - 1 {
                for connection in dribblers { try? connection.writeAll([Self.request[index]]) }
                usleep(20_000)
                if MonotonicClock.now - started > 3 { break }
            }
        }
        dribbling.start()

        for attempt in 0..<20 {
            let answer = try FastCGITestClient.exchange(endpoint, Self.request, timeout: 2)
            #expect(
                FastCGITestClient.standardOutput(of: answer).hasSuffix("served"),
                "request \(attempt) beside the silent and dribbling peers")
        }
        #expect(MonotonicClock.now - started < 1, "twenty requests were answered before any peer's deadline came")

        // Past the deadline (1 s from accept), every one of them has been closed by the server.
        for connection in silent + dribblers {
            try connection.setTimeouts(seconds: 3)
            var closed = false
            while !closed, MonotonicClock.now - started < 4 {
                do {
                    closed = try connection.read(maximum: 64).isEmpty
                } catch {
                    // Closed with the peer's bytes unread: a reset.
                    closed = error.errno == ECONNRESET
                    break
                }
            }
            #expect(closed, "a silent or dribbling connection was closed by the server")
        }
        #expect(server.connectionsDropped >= 350)
        #expect(server.threadsRunning == 2)
        let answer = try FastCGITestClient.exchange(endpoint, Self.request, timeout: 2)
        #expect(FastCGITestClient.standardOutput(of: answer).hasSuffix("served"))
    }

    @Test(
        "a request that is not one (another role, a second id, bytes past its end) is closed unanswered, the handler never runs"
    )
    func invalidRequests() throws {
        let path = try TestFiles.makeTemporaryDirectory(prefix: "fl-fcgi") + "/s.sock"
        let endpoint = SocketEndpoint.unix(path: path)
        let handled = ConcurrencyCounter()
        let server = try FastCGIServer(listener: try endpoint.listen(backlog: 64), threadCount: 1) {
            { request in
                handled.enter()
                request.write(Array("Content-Type: text/plain\r\n\r\nserved".utf8))
            }
        }
        try server.start()
        defer { _ = server.stop(grace: 1) }
        let empty =
            FastCGIRecords.stream(type: FastCGIRecords.params, [])
            + FastCGIRecords.stream(type: FastCGIRecords.stdin, [])
        let attempts = [
            FastCGIRecords.begin(role: 2) + empty,
            FastCGIRecords.record(type: FastCGIRecords.getValues, id: 0),
            Self.request + [0],
            FastCGIRecords.begin() + FastCGIRecords.stream(type: FastCGIRecords.params, id: 2, []),
        ]
        for bytes in attempts {
            let started = MonotonicClock.now
            let answer = try FastCGITestClient.exchange(endpoint, bytes, timeout: 3)
            #expect(answer.isEmpty, "closed unanswered")
            #expect(MonotonicClock.now - started < 2, "closed at once, not after libfcgi's two-second drain")
        }
        #expect(handled.count == 0)
        #expect(server.connectionsDropped == attempts.count)
        let answer = try FastCGITestClient.exchange(endpoint, Self.request, timeout: 2)
        #expect(FastCGITestClient.standardOutput(of: answer).hasSuffix("served"))
    }

    @Test("a kept connection serves one request after another, and goes back to waiting without a thread")
    func keptConnection() throws {
        let path = try TestFiles.makeTemporaryDirectory(prefix: "fl-fcgi") + "/s.sock"
        let endpoint = SocketEndpoint.unix(path: path)
        let server = try FastCGIServer(listener: try endpoint.listen(backlog: 64), threadCount: 1) {
            { request in
                let body = request.readBody(keepingAtMost: 100)
                request.write(Array("Content-Type: text/plain\r\n\r\nbody \(body.totalLength)".utf8))
            }
        }
        try server.start()
        defer { _ = server.stop(grace: 1) }
        // Two kept connections and one thread: each waits for its next request in the gate.
        let first = try endpoint.connect(timeout: 2)
        defer { first.close() }
        let second = try endpoint.connect(timeout: 2)
        defer { second.close() }
        for round in 0..<3 {
            for connection in [first, second] {
                try connection.writeAll(
                    FastCGIRecords.request(
                        [("REQUEST_METHOD", "POST")], body: [UInt8](repeating: 1, count: round * 10), keep: true))
                var received: [UInt8] = []
                // The answer ends with the end-request record: 8 bytes of header and 8 of body.
                while !(received.count >= 16 && received[received.count - 16 + 1] == 3) {
                    let chunk = try connection.read(maximum: 4096)
                    #expect(!chunk.isEmpty, "the connection stays open")
                    if chunk.isEmpty { break }
                    received += chunk
                }
                #expect(FastCGITestClient.standardOutput(of: received).hasSuffix("body \(round * 10)"))
            }
        }
        #expect(server.requestsServed == 6)
    }
}
