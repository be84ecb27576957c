// Longer than most files: one suite over the binding, driving it with a real FastCGI client; the helpers are shared.
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
    func makeServer(
        threads: Int = 4, parkedThreads: Int? = nil, gateLimits: ConnectionGateLimits = ConnectionGateLimits(),
        handler: @escaping @Sendable (borrowing FastCGIRequest) -> Void
    ) throws -> (FastCGIServer, String) {
        let path = try TestFiles.makeTemporaryDirectory(prefix: "fl-fcgi") + "/s.sock"
        let listener = try SocketEndpoint.unix(path: path).listen(backlog: 256)
        let server = try FastCGIServer(
            listener: listener, threadCount: threads, parkedThreads: parkedThreads, gateLimits: gateLimits
        ) { { request in handler(request) } }
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

    static let get = FastCGIRecords.request(keepConnection: false, parameters: [("REQUEST_METHOD", "GET")])

    @Test("connections that send nothing or part of a request hold no thread, and are closed after the request limit")
    func silentConnections() throws {
        let handled = ConcurrencyCounter()
        let (server, path) = try makeServer(threads: 2, gateLimits: ConnectionGateLimits(requestSeconds: 0.5)) {
            request in
            handled.enter()
            request.write(Array("Content-Type: text/plain\r\n\r\nserved".utf8))
        }
        defer { _ = server.stop(grace: 1) }
        let silent = try (0..<50).map { _ in try FastCGIConnection(unixPath: path) }
        let partial = try (0..<5).map { _ in try FastCGIConnection(unixPath: path) }
        for connection in partial { try connection.send(Array(Self.get.prefix(20))) }
        // Two threads: a server that waited on a connection's request would have none left.
        let client = try FastCGIConnection(unixPath: path, timeout: 3)
        try client.send(Self.get)
        #expect(client.readResponse()?.hasSuffix("served") == true)
        #expect(server.connectionsWaiting >= 50, "waiting in the gate: \(server.connectionsWaiting)")
        for connection in silent + partial { #expect(connection.closedByPeer(within: 3)) }
        #expect(server.connectionsTimedOut == 55)
        #expect(server.connectionsWaiting == 0)
        #expect(handled.count == 1)
        #expect(server.threadsRunning == 2)
    }

    @Test("a request that arrives a record at a time, within the limit, is served")
    func requestInPieces() throws {
        let (server, path) = try makeServer(threads: 1) { request in
            let body = request.readBody(keepingAtMost: 100)
            request.write(Array("Content-Type: text/plain\r\n\r\n\(String(decoding: body.bytes, as: UTF8.self))".utf8))
        }
        defer { _ = server.stop(grace: 1) }
        let request = FastCGIRecords.request(
            keepConnection: false, parameters: [("REQUEST_METHOD", "POST")], body: Array("pieces".utf8))
        let client = try FastCGIConnection(unixPath: path, timeout: 3)
        for start in stride(from: 0, to: request.count, by: 9) {
            try client.send(Array(request[start..<min(request.count, start + 9)]))
            usleep(20_000)
        }
        #expect(client.readResponse()?.hasSuffix("pieces") == true)
    }

    @Test("what is not a responder request closes the connection unread; the handler never runs")
    func invalidRequests() throws {
        let handled = ConcurrencyCounter()
        let (server, path) = try makeServer(threads: 1) { request in
            handled.enter()
            request.write(Array("Content-Type: text/plain\r\n\r\nserved".utf8))
        }
        defer { _ = server.stop(grace: 1) }
        let sends: [[UInt8]] = [
            FastCGIRecords.record(
                type: FastCGIRecords.getValues, id: 0, content: FastCGIRecords.pair("FCGI_MAX_CONNS", "")),
            FastCGIRecords.request(role: 3, keepConnection: false, parameters: [("REQUEST_METHOD", "GET")]),
            Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
        ]
        for bytes in sends {
            let client = try FastCGIConnection(unixPath: path, timeout: 3)
            try client.send(bytes)
            #expect(client.closedByPeer(within: 2))
        }
        #expect(handled.count == 0)
        #expect(server.connectionsInvalid == 3)
        let client = try FastCGIConnection(unixPath: path, timeout: 3)
        try client.send(Self.get)
        #expect(client.readResponse()?.hasSuffix("served") == true, "the one thread still serves")
    }

    @Test(
        "a kept connection is served request after request: on its parked thread, or through the gate",
        arguments: [0, 2])
    func keptConnection(parkedThreads: Int) throws {
        let (server, path) = try makeServer(threads: 2, parkedThreads: parkedThreads) { request in
            request.write(Array("Content-Type: text/plain\r\n\r\n\(request.parameter("N") ?? "?")".utf8))
        }
        defer { _ = server.stop(grace: 1) }
        // More kept connections than threads: idle ones past the parked threads wait in the gate.
        let connections = try (0..<4).map { _ in try FastCGIConnection(unixPath: path, timeout: 3) }
        for round in 0..<3 {
            for (index, connection) in connections.enumerated() {
                try connection.send(
                    FastCGIRecords.request(
                        keepConnection: true, parameters: [("REQUEST_METHOD", "GET"), ("N", "\(round)-\(index)")]))
                #expect(
                    connection.readResponse()?.hasSuffix("\(round)-\(index)") == true,
                    "round \(round), connection \(index)")
            }
            usleep(50_000)
        }
        #expect(server.requestsServed == 12)
        #expect(server.threadsParked <= parkedThreads)
        #expect(server.connectionsWaiting >= 4 - parkedThreads, "idle kept connections in the gate")
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
