import Foundation
import LoopbackHTTP
import POSIXSupport
import StackRunner
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every nginx config the project ships passes `nginx -t`, and `up` and the production site agree.
@Suite("shipped configs", .serialized)
struct ShippedConfigTests {
    @Test("up and the production site get their upstreams, timeouts and retry rules from one renderer")
    func oneSourceForUpstreams() throws {
        let stack = try TestStack(workers: 2, arguments: ["--deadline", "1.5"])
        let config = try String(contentsOfFile: stack.runtimeDirectory + "/nginx.conf", encoding: .utf8)
        let printed = try Command.run(
            try TestBinary.path,
            [
                "nginx-upstreams", "--workers", "2", "--threads", "64", "--deadline", "1.5", "--socket-dir",
                stack.runtimeDirectory,
            ])
        #expect(printed.status == 0, "\(printed.output)")
        let lines = printed.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count > 10)
        let rendered = Set(config.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for line in lines where !line.hasPrefix("#") {
            #expect(rendered.contains(line), "up's nginx.conf lacks \(line)")
        }
    }

    @Test(
        "nginx-upstreams renders what the checked-in files hold, byte for byte (a change to them is a change to review)",
        arguments: [
            (
                "upstreams-2-workers-64-threads-N-1.5.conf",
                ["--workers", "2", "--threads", "64", "--deadline", "1.5", "--socket-dir", "/run/fullyloaded"]
            ),
            ("upstreams-4-workers-defaults.conf", ["--workers", "4"]),
        ])
    func upstreamsAsCheckedIn(file: String, arguments: [String]) throws {
        let expected = try String(
            contentsOfFile: TestFiles.checkout + "/Tests/PackageTests/Expected/" + file, encoding: .utf8)
        let printed = try Command.run(try TestBinary.path, ["nginx-upstreams"] + arguments)
        #expect(printed.status == 0)
        #expect(printed.output == expected, "nginx-upstreams \(arguments.joined(separator: " ")) differs from \(file)")
    }

    @Test(
        "nginx-upstreams --options-from reads N and the threads as the worker does, in every spelling it accepts",
        arguments: [
            ("\"--deadline=3 --threads=256 --cost 12\"", ["--deadline", "3", "--threads", "256"]),
            ("'--cost 12   --threads 64\t--deadline 0.75'", ["--deadline", "0.75", "--threads", "64"]),
            ("--cost 12", [String]()),
        ])
    func upstreamsFromTheWorkersOptions(line: String, explicit: [String]) throws {
        let root = try TestFiles.makeTemporaryDirectory(prefix: "fl-options-from")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = root + "/default"
        try "# comment\nFULLYLOADED_MONITOR_OPTIONS=\"--cost 12\"\nFULLYLOADED_WORKER_OPTIONS=\(line)\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let binary = try TestBinary.path
        let fromFile = try Command.run(binary, ["nginx-upstreams", "--workers", "2", "--options-from", file])
        let fromFlags = try Command.run(binary, ["nginx-upstreams", "--workers", "2"] + explicit)
        #expect(fromFile.status == 0 && fromFlags.status == 0, "\(fromFile.output)\n\(fromFlags.output)")
        #expect(fromFile.output == fromFlags.output)
        if explicit.isEmpty {
            // The worker's defaults, not some other default of the renderer.
            #expect(fromFile.output.contains("fastcgi_read_timeout 2025ms;"), "\(fromFile.output)")
        } else {
            let other = try Command.run(binary, ["nginx-upstreams", "--workers", "2"])
            #expect(other.output != fromFile.output, "the file's options changed nothing")
        }
    }

    @Test("nginx-upstreams --options-from refuses a file the worker would refuse, and a file without the options")
    func upstreamsRefuseBadOptions() throws {
        let root = try TestFiles.makeTemporaryDirectory(prefix: "fl-options-from")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let binary = try TestBinary.path
        for (name, text, complaint) in [
            ("typo", "FULLYLOADED_WORKER_OPTIONS=\"--deadlin 3\"\n", "--deadlin"),
            ("range", "FULLYLOADED_WORKER_OPTIONS=\"--deadline -1\"\n", "deadline"),
            ("none", "FULLYLOADED_MONITOR_OPTIONS=\"--cost 12\"\n", "FULLYLOADED_WORKER_OPTIONS"),
        ] {
            try text.write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
            let run = try Command.run(
                binary, ["nginx-upstreams", "--workers", "2", "--options-from", root + "/" + name])
            #expect(run.status != 0 && run.output.contains(complaint), "\(name): \(run.output)")
            #expect(!run.output.contains("upstream "), "\(name) printed upstreams: \(run.output)")
        }
        let missing = try Command.run(
            binary, ["nginx-upstreams", "--workers", "2", "--options-from", root + "/absent"])
        #expect(missing.status != 0 && missing.output.contains("cannot read"), "\(missing.output)")
    }

    @Test("the config up renders passes nginx -t, with and without the rate limit")
    func upConfigPassesNginxTest() throws {
        for arguments in [[], ["--rate-limit", "5", "--deadline", "1.5"]] {
            let stack = try TestStack(workers: 1, arguments: arguments)
            let config = stack.runtimeDirectory + "/nginx.conf"
            let test = try Command.run(
                "/usr/sbin/nginx",
                ["-t", "-p", stack.runtimeDirectory, "-c", config, "-e", stack.runtimeDirectory + "/nginx-test.log"])
            #expect(test.status == 0, "\(test.output)")
            let text = try String(contentsOfFile: config, encoding: .utf8)
            #expect(text.contains("default \(arguments.isEmpty ? 0 : 1);"))
            // nginx never waits on a worker past N plus the time it needs to answer itself.
            #expect(text.contains("fastcgi_read_timeout \(arguments.isEmpty ? 2025 : 1525)ms;"), "\(text)")
            #expect(
                try String(contentsOfFile: stack.runtimeDirectory + "/https-server.conf", encoding: .utf8)
                    .contains("listen 127.0.0.1:\(stack.httpsPort) ssl http2 backlog=4096;"))
        }
    }

    @Test("limits count an IPv6 client by its /64, whatever spelling nginx gives its address; IPv4 by its address")
    func clientKeyIsTheSlash64() throws {
        let root = try TestFiles.makeTemporaryDirectory(prefix: "fl-client-key")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let port = try LoopbackPort.ephemeral()
        // The shipped http settings, and a server that takes the client address from a header
        // (realip, trusted from loopback only) and answers with the key the limits use.
        try """
        worker_processes 1;
        pid \(root)/nginx.pid;
        error_log \(root)/error.log;
        events { worker_connections 64; }
        http {
            access_log off;
            geo $fullyloaded_rate_limited { default 1; }
            geo $fullyloaded_trusted_proxy { default 0; }
            geo $fullyloaded_api_network { default 1; }
            geo $fullyloaded_page_network { default 1; }
            limit_req_zone $fullyloaded_limit_key zone=fullyloaded_expensive:1m rate=2r/s;
            include \(TestFiles.checkout)/nginx/snippets/fullyloaded-http.conf;
            server {
                listen 127.0.0.1:\(port);
                set_real_ip_from 127.0.0.1;
                real_ip_header X-Client;
                location / { return 200 "$fullyloaded_client"; }
            }
        }
        """.write(toFile: root + "/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = try ChildProcess.spawn(
            executable: "/usr/sbin/nginx", arguments: ["-p", root, "-c", root + "/nginx.conf", "-g", "daemon off;"],
            standardOutput: root + "/nginx.out")
        defer { _ = try? nginx.stop(grace: 5) }
        // Addresses whose /64 is known, in every shape RFC 5952 compression gives them:
        // (address, expected key); the generator below adds random ones.
        var cases: [(String, String)] = [
            ("203.0.113.9", "203.0.113.9"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2"), ("2001:db8:1:2::6", "2001:db8:1:2"),
            ("2001:db8:1::6", "2001:db8:1:0"), ("2001:db8::6", "2001:db8:0:0"), ("2001:db8::", "2001:db8:0:0"),
            ("2001::5:6:7:8", "2001:0:0:0"), ("2001::4:5:6:7:8", "2001:0:0:4"), ("::4:5:6:7:8", "0:0:0:4"),
            ("::3:4:5:6:7:8", "0:0:3:4"), ("::1", "0:0:0:0"), ("2001:db8:0:1::", "2001:db8:0:1"),
            ("2001:0:0:1::1", "2001:0:0:1"), ("2001::1:0:0:1", "2001:0:0:0"),
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            // Groups that are often zero, so that "::" lands everywhere.
            let groups = (0..<8).map { _ in Bool.random(using: &generator) ? 0 : Int.random(in: 0...0xffff) }
            let prefix = groups[0..<4].map { String($0, radix: 16) }.joined(separator: ":")
            let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
            cases.append((AddressRange(address: bytes).description, prefix))
        }
        let client = LoopbackHTTPClient(port: port, timeout: 2)
        var answered = 0
        for _ in 0..<200 where answered == 0 {
            answered = client.status(of: "/") == 200 ? 1 : 0
            if answered == 0 { usleep(20_000) }
        }
        for (address, expected) in cases {
            let response = try client.request("GET", "/", headers: [("X-Client", address)])
            #expect(response.text == expected, "\(address)")
        }
    }
}
