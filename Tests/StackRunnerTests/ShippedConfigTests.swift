import Foundation
import POSIXSupport
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every nginx config the project ships passes `nginx -t`; the install script lays out a host.
@Suite("shipped configs and the install script", .serialized)
struct ShippedConfigTests {
    /// A main nginx.conf as Debian's: http {} including the enabled sites.
    static func debianLikeMainConfig(root: String) -> String {
        """
        worker_processes 1;
        pid \(root)/nginx.pid;
        error_log \(root)/nginx-error.log;
        events { worker_connections 64; }
        http {
            include /etc/nginx/mime.types;
            access_log \(root)/access.log;
            include sites-enabled/*;
        }

        """
    }

    @Test("install.sh --root lays out binary, page, units and nginx site, and the site passes nginx -t")
    func installIntoRoot() throws {
        let root = try TestFiles.makeTemporaryDirectory(prefix: "fl-install")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let install = try Command.run(
            "/bin/bash",
            [
                TestFiles.checkout + "/Deploy/install.sh", "--root", root, "--binary", try TestBinary.path, "--workers",
                "3",
                "--deadline", "1.5",
            ])
        #expect(install.status == 0, "\(install.output)")
        let files = FileManager.default
        for path in [
            "/usr/local/bin/fullyloaded", "/usr/local/share/fullyloaded/nginx/html/index.html",
            "/usr/local/share/fullyloaded/nginx/up.conf.template", "/etc/systemd/system/fullyloaded-worker@.socket",
            "/etc/systemd/system/fullyloaded.target", "/etc/nginx/sites-enabled/fullyloaded",
            "/etc/nginx/snippets/fullyloaded-server.conf", "/etc/default/fullyloaded",
        ] {
            #expect(files.fileExists(atPath: root + path), "\(path) missing")
        }
        #expect(files.isExecutableFile(atPath: root + "/usr/local/bin/fullyloaded"))
        let upstreams = try String(contentsOfFile: root + "/etc/nginx/fullyloaded/upstreams.conf", encoding: .utf8)
        let servers = upstreams.split(separator: "\n").filter { $0.contains("server unix:/run/fullyloaded/worker-") }
        // Three workers in each of the two upstreams; only the expensive one caps connections.
        #expect(servers.count == 6, "\(upstreams)")
        #expect(servers.filter { $0.contains("max_conns=256") }.count == 3, "\(upstreams)")
        // nginx never waits on a worker past N plus the time it needs to answer itself.
        #expect(upstreams.contains("fastcgi_read_timeout 1525ms;"), "\(upstreams)")
        let key = root + "/etc/nginx/fullyloaded/tls/fullyloaded.key"
        let attributes = try files.attributesOfItem(atPath: key)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let certificate = try Data(
            contentsOf: URL(fileURLWithPath: root + "/etc/nginx/fullyloaded/tls/fullyloaded.crt"))

        try Self.debianLikeMainConfig(root: root).write(
            toFile: root + "/etc/nginx/nginx.conf", atomically: true, encoding: .utf8)
        let test = try Command.run("/usr/sbin/nginx", ["-t", "-p", root, "-c", root + "/etc/nginx/nginx.conf"])
        #expect(test.status == 0, "\(test.output)")
        #expect(test.output.contains("test is successful"))

        // Running it again upgrades in place and keeps the operator's certificate and options.
        try "FULLYLOADED_WORKER_OPTIONS=\"--deadline 3\"\n".write(
            toFile: root + "/etc/default/fullyloaded", atomically: true, encoding: .utf8)
        let again = try Command.run(
            "/bin/bash", [TestFiles.checkout + "/Deploy/install.sh", "--root", root, "--binary", try TestBinary.path])
        #expect(again.status == 0, "\(again.output)")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: root + "/etc/nginx/fullyloaded/tls/fullyloaded.crt"))
                == certificate)
        #expect(try String(contentsOfFile: root + "/etc/default/fullyloaded", encoding: .utf8).contains("--deadline 3"))
    }

    @Test("install.sh refuses nonsense options without touching anything")
    func installRefusesBadOptions() throws {
        let root = try TestFiles.makeTemporaryDirectory(prefix: "fl-install")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for options in [["--workers", "0"], ["--deadline", "soon"], ["--frobnicate"]] {
            let run = try Command.run(
                "/bin/bash", [TestFiles.checkout + "/Deploy/install.sh", "--root", root] + options)
            #expect(run.status == 2, "\(options): \(run.output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

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
}
