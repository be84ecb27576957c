import Foundation
import StackTestSupport
import Testing

/// Who may call the API: a list of client networks, and client certificates for application
/// servers off the list, enforced by nginx before a worker sees the request.
@Suite("who may call the API", .serialized)
struct APIAccessTests {
    /// `curl` from `source` (a loopback address of this machine): the status and the body.
    static func curl(_ url: String, from source: String, _ extra: [String] = []) throws -> (status: Int, body: String) {
        let run = try Command.run(
            "/usr/bin/curl",
            ["-s", "-k", "--max-time", "10", "--interface", source, "-w", "\n%{http_code}"] + extra + [url])
        let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static let hashBody = [
        "-H", "Content-Type: application/json", "--data", #"{"password":"correct horse","cost":4}"#,
    ]

    /// A CA and a client certificate it signed, made with openssl in `folder` under `name`.
    static func makeClientCertificate(in folder: String, name: String) throws -> (ca: String, cert: String, key: String)
    {
        let (ca, caKey) = (folder + "/\(name)-ca.pem", folder + "/\(name)-ca.key")
        let (cert, key, request) = (folder + "/\(name).pem", folder + "/\(name).key", folder + "/\(name).csr")
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-keyout", caKey, "-out", ca, "-subj", "/CN=\(name) CA",
            ],
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                "-out", request, "-subj", "/CN=\(name) app server",
            ],
            [
                "x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1", "-out",
                cert,
            ],
        ]
        for arguments in steps {
            let run = try Command.run("/usr/bin/openssl", arguments)
            try #require(run.status == 0, "openssl \(arguments.joined(separator: " ")): \(run.output)")
        }
        return (ca, cert, key)
    }

    @Test(
        "off the --api-network list: 403 JSON on the hashing routes, and the worker never sees it; pings stay open; --private-pages closes the page, /ws and /api/stats"
    )
    func networkList() throws {
        let stack = try TestStack(
            workers: 1, cost: 4, arguments: ["--max-cost", "5", "--api-network", "127.0.0.2/32", "--private-pages"])
        defer { _ = try? stack.stop() }
        let base = "http://127.0.0.1:\(stack.port)"

        for (path, extra) in [("/api/hash", Self.hashBody), ("/api/verify", Self.hashBody), ("/api/load", [])] {
            let refused = try Self.curl(base + path, from: "127.0.0.1", extra)
            #expect(refused.status == 403, "\(path) from 127.0.0.1: \(refused)")
            #expect(refused.body.contains(#""error":"forbidden""#), "\(refused.body)")
        }
        // A browser off the list gets the same JSON, not the failure animal: it is not a busy host.
        let browser = try Self.curl(base + "/api/hash", from: "127.0.0.1", Self.hashBody + ["-H", "Accept: text/html"])
        #expect(browser.status == 403 && browser.body.contains("forbidden"), "\(browser)")

        let allowed = try Self.curl(base + "/api/hash", from: "127.0.0.2", Self.hashBody)
        #expect(allowed.status == 200 && allowed.body.contains(#""hash":"$2b$04$"#), "\(allowed)")
        #expect(try Self.curl(base + "/api/ping", from: "127.0.0.1").status == 200)

        for path in ["/", "/ws", "/api/stats"] {
            #expect(try Self.curl(base + path, from: "127.0.0.1").status == 403, "\(path) is private")
        }
        #expect(try Self.curl(base + "/", from: "127.0.0.2").status == 200)
        // Only the one allowed hash reached a worker.
        let stats = try Self.curl(base + "/api/stats", from: "127.0.0.2")
        #expect(stats.status == 200)
        let counters =
            ((try? JSONSerialization.jsonObject(with: Data(stats.body.utf8))) as? [String: Any])?["counters"]
            as? [String: Any]
        #expect(counters?["admitted"] as? Int == 1, "\(stats.body)")
    }

    @Test(
        "on HTTPS, a client certificate from --api-client-ca admits an app server off the list; none, or another CA's, does not"
    )
    func clientCertificates() throws {
        let folder = try TestFiles.makeTemporaryDirectory(prefix: "fl-mtls")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let app = try Self.makeClientCertificate(in: folder, name: "app")
        let stranger = try Self.makeClientCertificate(in: folder, name: "stranger")
        let stack = try TestStack(
            workers: 1, cost: 4,
            arguments: ["--max-cost", "5", "--api-network", "127.0.0.2/32", "--api-client-ca", app.ca])
        defer { _ = try? stack.stop() }
        let url = "https://127.0.0.1:\(stack.httpsPort)/api/hash"

        let withCertificate = try Self.curl(
            url, from: "127.0.0.1", Self.hashBody + ["--cert", app.cert, "--key", app.key])
        #expect(withCertificate.status == 200 && withCertificate.body.contains("$2b$04$"), "\(withCertificate)")
        let without = try Self.curl(url, from: "127.0.0.1", Self.hashBody)
        #expect(without.status == 403 && without.body.contains("forbidden"), "\(without)")
        let foreign = try Self.curl(
            url, from: "127.0.0.1", Self.hashBody + ["--cert", stranger.cert, "--key", stranger.key])
        #expect(foreign.status == 403 && foreign.body.contains("forbidden"), "another CA's certificate: \(foreign)")
        // Browsers are not asked for one: the page stays open without --private-pages.
        #expect(try Self.curl("https://127.0.0.1:\(stack.httpsPort)/", from: "127.0.0.1").status == 200)
        // Plain HTTP has no certificate to show: the list alone decides.
        let plain = try Self.curl("http://127.0.0.1:\(stack.port)/api/hash", from: "127.0.0.1", Self.hashBody)
        #expect(plain.status == 403, "\(plain)")
    }
}
