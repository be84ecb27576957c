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
