// Longer than most files: one suite over nginx's front (TLS, limits, headers, slow clients), sharing a stack starter and raw-socket clients.
import Foundation
import POSIXSupport
import StackRunner
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// nginx in front: HTTPS, per-client limits, headers, and clients that misbehave.
@Suite("nginx front door: TLS, limits, headers, bad clients", .serialized)
struct FrontDoorTests {
    static let curl = "/usr/bin/curl"
    static let openssl = "/usr/bin/openssl"

    @Test("HTTPS speaks HTTP/2 over TLS 1.2 and 1.3, and refuses TLS 1.1 and ciphers outside the list")
    func https() throws {
        let stack = try TestStack(workers: 1)
        let base = "https://localhost:\(stack.httpsPort)"
        let ping = try Command.run(Self.curl, ["-sk", "--http2", "-w", "\n%{http_version}", base + "/api/ping"])
        #expect(
            ping.status == 0 && ping.output.contains(#""ok":true"#) && ping.output.hasSuffix("\n2"), "\(ping.output)")
        let hash = try Command.run(
            Self.curl,
            [
                "-sk", "--http2", "-H", "Content-Type: application/json", "-d", #"{"password":"p","cost":4}"#,
                base + "/api/hash",
            ])
        #expect(hash.output.contains("$2b$04$"), "\(hash.output)")

        func handshake(_ options: [String]) throws -> Command.Outcome {
            try Command.run(
                Self.openssl,
                ["s_client", "-connect", "127.0.0.1:\(stack.httpsPort)", "-servername", "localhost"] + options,
                input: "")
        }
        #expect(try handshake(["-tls1_2"]).status == 0)
        #expect(try handshake(["-tls1_3"]).status == 0)
        #expect(try handshake(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"]).status == 0)
        // The client offers what the server must refuse (its own floor lowered to allow it).
        #expect(try handshake(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]).status != 0)
        #expect(try handshake(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"]).status != 0, "CBC-SHA1 accepted")
    }

    @Test("the page carries security and cache headers and no server version; HSTS is left off on localhost")
    func headers() throws {
        let stack = try TestStack(workers: 1)
        let client = stack.client()
        let page = try client.request("GET", "/")
        #expect(page.status == 200)
        #expect(page.headers["x-content-type-options"] == "nosniff")
        #expect(page.headers["x-frame-options"] == "DENY")
        #expect(page.headers["referrer-policy"] == "no-referrer")
        #expect(page.headers["content-security-policy"]?.contains("default-src 'self'") == true)
        #expect(page.headers["cache-control"] == "no-cache")
        #expect(page.headers["strict-transport-security"] == nil)
        #expect(page.headers["server"] == "nginx", "no version: \(page.headers["server"] ?? "none")")
        let script = try client.request("GET", "/dashboard.js")
        #expect(script.headers["cache-control"] == "max-age=3600")
        #expect(script.headers["x-content-type-options"] == "nosniff")
        let chart = try client.request("GET", "/javascript/chart.js/chart.min.js")
        #expect(chart.status == 200 && chart.headers["content-type"] == "application/javascript")
        #expect(chart.headers["cache-control"] == "max-age=604800")
        // Locations with headers of their own keep the security headers too.
        for path in ["/failure.html", "/api/nowhere"] {
            let response = try client.request("GET", path)
            #expect(response.headers["x-frame-options"] == "DENY", "\(path)")
        }
    }

    @Test("the failure page's inline style and script are exactly the ones its CSP allows by hash")
    func failurePagePolicyMatchesThePage() throws {
        let stack = try TestStack(workers: 1)
        let response = try stack.client().request("GET", "/failure.html")
        let policy = try #require(response.headers["content-security-policy"])
        let page = response.text
        for tag in ["style", "script"] {
            let open = try #require(page.range(of: "<\(tag)>"))
            let close = try #require(page.range(of: "</\(tag)>"))
            let inline = String(page[open.upperBound..<close.lowerBound])
            let digest = try Command.run(
                "/bin/sh", ["-c", "\(Self.openssl) dgst -sha256 -binary | base64"], input: inline)
            let hash = "'sha256-\(digest.output.trimmingCharacters(in: .whitespacesAndNewlines))'"
            #expect(policy.contains("\(tag)-src \(hash)"), "\(tag) hash \(hash) not in \(policy)")
        }
        #expect(!policy.contains("unsafe-inline"))
    }

    @Test(
        "--rate-limit: past a burst, expensive requests from one address get 429 JSON, and so does /api/stats past its own; pings never"
    )
    func rateLimit() throws {
        let stack = try TestStack(workers: 2, cost: 4, arguments: ["--rate-limit", "1"])
        let client = stack.client()
        var statuses: [Int] = []
        // A burst of 40, then one a second.
        for _ in 0..<50 { statuses.append(try client.request("GET", "/api/load").status) }
        #expect(statuses.prefix(41).allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(statuses.suffix(5).allSatisfy { $0 == 429 }, "\(statuses)")
        for accept in ["application/json", "text/html"] {
            let limited = try client.request(
                "POST", "/api/hash", headers: [("Accept", accept)], body: Array(#"{"password":"p"}"#.utf8))
            #expect(limited.status == 429)
            #expect(limited.headers["content-type"] == "application/json")
            #expect(limited.headers["retry-after"] == "1")
            #expect(limited.text.contains(#""error":"rate_limited""#), "\(limited.text)")
        }
        for _ in 0..<50 { #expect(try client.request("GET", "/api/ping").status == 200) }
        // /api/stats: ten a second past a burst of twenty.
        var stats: [Int] = []
        for _ in 0..<30 { stats.append(try client.request("GET", "/api/stats").status) }
        #expect(stats.prefix(21).allSatisfy { $0 == 200 }, "\(stats)")
        #expect(stats.suffix(3).allSatisfy { $0 == 429 }, "\(stats)")
        // Without the flag nobody is limited: the pool, not nginx, decides.
        let open = try TestStack(workers: 2, cost: 4)
        for _ in 0..<50 { #expect(try open.client().request("GET", "/api/load").status == 200) }
    }

    @Test(
        "plain HTTP to the TLS port, oversized headers and 300 slowloris clients do not disturb others; unfinished heads and stalled bodies are dropped after 10 s"
    )
    func badClients() throws {
        let stack = try TestStack(workers: 2, cost: 4)
        // Plain HTTP on the TLS port: nginx's 400, and the connection is done.
        let plain = try SocketEndpoint.tcp(host: "127.0.0.1", port: stack.httpsPort).connect(timeout: 5)
        try plain.writeAll(Array("GET /api/ping HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        try plain.setTimeouts(seconds: 5)
        let answer = String(decoding: try plain.read(maximum: 4096), as: UTF8.self)
        plain.close()
        #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")

        // Headers far over nginx's buffers: refused, nothing reaches a worker.
        let huge = try stack.client().request(
            "GET", "/api/ping", headers: [("Cookie", String(repeating: "a", count: 64 * 1024))])
        #expect([400, 494].contains(huge.status), "\(huge.status)")

        // Slowloris: connections that trickle a request head and never finish it, and TLS
        // connections that never say hello.
        let opened = MonotonicClock.now
        var slow: [FileDescriptor] = []
        defer { for socket in slow { socket.close() } }
        for index in 0..<300 {
            let port = index % 3 == 0 ? stack.httpsPort : stack.port
            let socket = try SocketEndpoint.tcp(host: "127.0.0.1", port: port).connect(timeout: 5)
            if port == stack.port { try socket.writeAll(Array("GET /api/load HTTP/1.1\r\nHost: localhost\r\n".utf8)) }
            slow.append(socket)
        }
        // A body that stops part way: nginx reads bodies before a worker sees them.
        let stalledBody = try SocketEndpoint.tcp(host: "127.0.0.1", port: stack.port).connect(timeout: 5)
        defer { stalledBody.close() }
        try stalledBody.writeAll(
            Array(
                "POST /api/hash HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pass"
                    .utf8))
        let client = stack.client(timeout: 5)
        var slowest = 0.0
        for round in 0..<40 {
            if round % 10 == 0 { for socket in slow { _ = try? socket.writeAll(Array("X-a: b\r\n".utf8)) } }
            let started = MonotonicClock.now
            #expect(try client.request("GET", "/api/ping").status == 200)
            #expect(try client.request("GET", "/api/load").status == 200)
            slowest = max(slowest, MonotonicClock.now - started)
        }
        let https = try Command.run(Self.curl, ["-sk", "https://localhost:\(stack.httpsPort)/api/ping"])
        #expect(https.output.contains(#""ok":true"#))
        // A ping and a cost-4 hash: milliseconds, whatever the idle connections do.
        #expect(slowest < 1, "slowest ping + hash took \(slowest) s beside slow clients")

        // client_header_timeout counts from the connection's start, however the head trickles in;
        // client_body_timeout from the last byte of the body. Both are 10 s.
        #expect(MonotonicClock.now - opened < 9, "the checks below need the connections younger than the timeout")
        let trickling = slow.indices.filter { $0 % 3 != 0 }.map { slow[$0] }
        #expect(trickling.allSatisfy { !Self.isClosedByPeer($0, within: 0.01) }, "a head was cut off before 10 s")
        usleep(UInt32(max(0, opened + 11 - MonotonicClock.now) * 1_000_000))
        let dropped = trickling.filter { Self.isClosedByPeer($0, within: 3) }.count
        #expect(dropped == trickling.count, "\(dropped) of \(trickling.count) unfinished heads closed 11 s on")
        #expect(Self.isClosedByPeer(stalledBody, within: 3), "a body stalled for 11 s was not dropped")
    }

    /// Whether the peer closes `socket` (an end of file, or a reset, after any bytes it sends)
    /// within `seconds`.
    static func isClosedByPeer(_ socket: FileDescriptor, within seconds: Double) -> Bool {
        guard (try? socket.setTimeouts(seconds: seconds)) != nil else { return false }
        let deadline = MonotonicClock.now + seconds
        while MonotonicClock.now < deadline {
            do {
                if try socket.read(maximum: 4096).isEmpty { return true }
            } catch {
                return error.errno == ECONNRESET
            }
        }
        return false
    }

    /// Opens `count` TCP connections from `source` to `port` at once; each one that connected
    /// sends `greeting` (if any) and is kept.
    static func hold(_ count: Int, from source: String, to port: UInt16, sending greeting: [UInt8]) -> [Int32] {
        var held: [Int32] = []
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard descriptor >= 0 else { break }
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_port = port.bigEndian
            inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
            let connected = withUnsafePointer(to: &local) { localPointer in
                withUnsafePointer(to: &remote) { remotePointer in
                    localPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { localAddress in
                        remotePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { remoteAddress in
                            bind(descriptor, localAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                                && connect(descriptor, remoteAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                        }
                    }
                }
            }
            guard connected else {
                close(descriptor)
                continue
            }
            if !greeting.isEmpty {
                _ = greeting.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            held.append(descriptor)
        }
        return held
    }

    @Test("5,000 idle and half-open TLS connections from one address: another address's pings stay 200")
    func idleConnectionsFromOneAddress() throws {
        // `up` started from a shell that allows 1,024 descriptors, as many do; this process then
        // needs 5,000 of its own.
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit(rlim_cur: 1024, rlim_max: 16384)
        #expect(setrlimit(resource, &limit) == 0)
        let stack = try TestStack(workers: 1, cost: 4)
        limit.rlim_cur = 16384
        #expect(setrlimit(resource, &limit) == 0)
        // Half plain HTTP connections that never send, half TLS connections stuck after a
        // handshake record header: idle and half-open, as many as nginx has per process.
        var held = Self.hold(2500, from: "127.0.0.2", to: stack.port, sending: [])
        held += Self.hold(2500, from: "127.0.0.2", to: stack.httpsPort, sending: [0x16, 0x03, 0x01, 0x02, 0x00])
        defer { for descriptor in held { close(descriptor) } }
        #expect(held.count == 5000, "connections held: \(held.count)")
        var statuses: [String: Int] = [:]
        for index in 0..<20 {
            let port = index % 2 == 0 ? stack.port : stack.httpsPort
            let scheme = index % 2 == 0 ? "http" : "https"
            let result = try Command.run(
                Self.curl,
                [
                    "-sk", "-m", "3", "--interface", "127.0.0.3", "-o", "/dev/null", "-w", "%{http_code}",
                    "\(scheme)://127.0.0.1:\(port)/api/ping",
                ])
            statuses[result.output, default: 0] += 1
        }
        #expect(statuses == ["200": 20], "pings from another address beside 5,000 held connections: \(statuses)")
        #expect(try stack.stop() == .exited(0))
    }
}
