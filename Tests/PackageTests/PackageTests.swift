// Longer than most files: building the package once is slow, so one suite checks its files, conffiles and lintian together.
import Foundation
import StackTestSupport
import Testing

/// `Deploy/package.sh`: a Debian package that needs no Swift on the host, whose operator files are
/// conffiles, and that Debian's own checker passes.
@Suite("the Debian package", .serialized)
struct PackageTests {
    /// Warnings lintian gives that `Docs/deploy.md` answers; anything else fails.
    static let answeredWarnings = ["systemd-service-file-refers-to-unusual-wantedby-target"]

    /// Runs postinst configure with `getent` answering `account` for the fullyloaded user, and
    /// `adduser` and `mkdir` that only record being called (and stop the script there).
    static func postinst(account: String) throws -> (status: Int32, output: String, reached: String) {
        let shims = try TestFiles.makeTemporaryDirectory(prefix: "fl-postinst")
        defer { try? FileManager.default.removeItem(atPath: shims) }
        let record = shims + "/reached"
        let scripts = [
            "getent": "#!/bin/sh\n[ \"$1 $2\" = 'passwd fullyloaded' ] && [ -n '\(account)' ] && echo '\(account)'\n",
            "adduser": "#!/bin/sh\necho adduser >> \(record); exit 3\n",
            "mkdir": "#!/bin/sh\necho mkdir >> \(record); exit 3\n",
        ]
        for (name, text) in scripts {
            // Written through a close-on-exec descriptor: a process another test forks meanwhile
            // must not hold it open for writing, or running the shim fails (ETXTBSY).
            let file = open(shims + "/" + name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
            try #require(file >= 0)
            let bytes = Array(text.utf8)
            let written = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
            close(file)
            try #require(written == bytes.count)
        }
        let run = try Command.run(
            "/usr/bin/env",
            ["PATH=\(shims):/usr/bin:/bin", "/bin/sh", TestFiles.checkout + "/Deploy/debian/postinst", "configure"])
        let reached = (try? String(contentsOfFile: record, encoding: .utf8)) ?? ""
        return (run.status, run.output, reached)
    }

    @Test(
        "postinst refuses an existing fullyloaded account that is a login user or root's uid, before it changes anything"
    )
    func postinstRefusesLoginAccounts() throws {
        for account in [
            "fullyloaded:x:1000:1000:someone:/home/fullyloaded:/bin/bash",
            "fullyloaded:x:0:0:root twin:/root:/usr/sbin/nologin",
            "fullyloaded:x:998:998::/nonexistent:/bin/bash",
        ] {
            let run = try Self.postinst(account: account)
            #expect(run.status != 0, "\(account)")
            #expect(run.output.contains("is not a system account"), "\(account): \(run.output)")
            #expect(run.reached.isEmpty, "\(account): went on to \(run.reached)")
        }
        // A system account is used as it is; no account is made with adduser.
        let system = try Self.postinst(account: "fullyloaded:x:998:998::/nonexistent:/usr/sbin/nologin")
        #expect(system.reached == "mkdir\n", "\(system.output)")
        let none = try Self.postinst(account: "")
        #expect(none.reached == "adduser\n", "\(none.output)")
    }

    @Test(
        "install.sh and dev.sh as root run nothing of a checkout another user owns or others may write: the planted dev.sh never runs",
        .enabled(if: geteuid() == 0, "runs install.sh as root"))
    func installRefusesOthersCheckouts() throws {
        let checkout = try TestFiles.makeTemporaryDirectory(prefix: "fl-checkout")
        defer { try? FileManager.default.removeItem(atPath: checkout) }
        let mark = checkout + ".ran"
        defer { try? FileManager.default.removeItem(atPath: mark) }
        chmod(checkout, 0o755)
        for directory in ["Deploy", "Sources", "nginx"] { mkdir(checkout + "/" + directory, 0o755) }
        _ = FileManager.default.createFile(atPath: checkout + "/Package.swift", contents: Data("// swift\n".utf8))
        try FileManager.default.copyItem(
            atPath: TestFiles.checkout + "/Deploy/install.sh", toPath: checkout + "/Deploy/install.sh")
        // What another user planted: run as root, it would leave the mark.
        for name in ["dev.sh", "package.sh"] {
            _ = FileManager.default.createFile(
                atPath: checkout + "/Deploy/" + name, contents: Data("touch \(mark); exit 1\n".utf8),
                attributes: [.posixPermissions: 0o755])
        }
        func install() throws -> Command.Outcome {
            try Command.run("/bin/bash", [checkout + "/Deploy/install.sh"])
        }
        func chownAll(_ uid: uid_t) throws {
            for path in try FileManager.default.subpathsOfDirectory(atPath: checkout) + [""] {
                lchown(checkout + "/" + path, uid, uid)
            }
        }
        // Another user's checkout.
        try chownAll(65534)
        let others = try install()
        #expect(others.status != 0 && others.output.contains("is owned by nobody"), "\(others.output)")
        #expect(!FileManager.default.fileExists(atPath: mark), "the planted dev.sh ran as root")
        // Root's, but one script writable by its group.
        try chownAll(0)
        chmod(checkout + "/Deploy/dev.sh", 0o775)
        let writable = try install()
        #expect(writable.status != 0 && writable.output.contains("writable by group or others"), "\(writable.output)")
        #expect(!FileManager.default.fileExists(atPath: mark), "the planted dev.sh ran as root")
        // dev.sh as root in another user's checkout (not the sudo user's) stops before it runs or builds anything.
        try FileManager.default.removeItem(atPath: checkout + "/Deploy/dev.sh")
        try FileManager.default.copyItem(
            atPath: TestFiles.checkout + "/Deploy/dev.sh", toPath: checkout + "/Deploy/dev.sh")
        _ = FileManager.default.createFile(
            atPath: checkout + "/Package.swift", contents: Data("// swift-tools-version:6.0\n\(mark)\n".utf8))
        try chownAll(65534)
        let up = try Command.run("/usr/bin/env", ["-u", "SUDO_USER", "/bin/bash", checkout + "/Deploy/dev.sh", "up"])
        #expect(up.status != 0 && up.output.contains("is nobody's"), "\(up.output)")
        try chownAll(0)
        for name in ["dev.sh"] {
            try FileManager.default.removeItem(atPath: checkout + "/Deploy/" + name)
            _ = FileManager.default.createFile(
                atPath: checkout + "/Deploy/" + name, contents: Data("touch \(mark); exit 1\n".utf8),
                attributes: [.posixPermissions: 0o755])
        }
        // Root's alone: then it is root's own code, and runs (the mark shows the test would see it).
        chmod(checkout + "/Deploy/dev.sh", 0o755)
        let own = try install()
        #expect(own.status != 0)
        #expect(FileManager.default.fileExists(atPath: mark), "\(own.output)")
    }

    @Test(
        "package.sh builds a .deb with the Swift runtime linked in, conffiles for what operators edit, and lintian finds no error"
    )
    func packageBuildsAndPassesLintian() throws {
        let out = try TestFiles.makeTemporaryDirectory(prefix: "fl-package")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let build = try Command.run("/bin/bash", [TestFiles.checkout + "/Deploy/package.sh", "--out", out])
        try #require(build.status == 0, "\(build.output)")
        let package = try #require(build.output.split(separator: "\n").last.map(String.init))
        #expect(package.hasPrefix(out + "/fullyloaded_") && package.hasSuffix(".deb"), "\(package)")

        let info = try Command.run("/usr/bin/dpkg-deb", ["--field", package, "Depends"])
        for dependency in ["nginx", "libfcgi0ldbl", "libssl3", "libcrypt1", "libargon2-1", "adduser", "openssl"] {
            #expect(info.output.contains(dependency), "Depends lacks \(dependency): \(info.output)")
        }
        let tree = out + "/tree"
        #expect(try Command.run("/usr/bin/dpkg-deb", ["--raw-extract", package, tree]).status == 0)
        let conffiles = try String(contentsOfFile: tree + "/DEBIAN/conffiles", encoding: .utf8)
        for file in [
            "/etc/default/fullyloaded", "/etc/nginx/sites-available/fullyloaded",
            "/etc/nginx/snippets/fullyloaded-server.conf",
        ] {
            #expect(conffiles.contains(file + "\n"), "\(file) is not a conffile: \(conffiles)")
        }
        // The certificate is chosen in a file postinst writes once: no conffile, no package file.
        #expect(!conffiles.contains("certificate.conf"))
        #expect(!FileManager.default.fileExists(atPath: tree + "/etc/nginx/fullyloaded/certificate.conf"))
        let site = try String(contentsOfFile: tree + "/etc/nginx/sites-available/fullyloaded", encoding: .utf8)
        #expect(site.contains("include fullyloaded/certificate.conf;"))
        #expect(site.contains("root /usr/share/fullyloaded/nginx/html;") && !site.contains("/usr/local"))
        let unit = try String(contentsOfFile: tree + "/lib/systemd/system/fullyloaded-worker@.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/bin/fullyloaded worker"))

        // The man page, from the parser: every command, no internal flag; the completions; the docs;
        // the monitoring files.
        let manual = try Command.run("/bin/sh", ["-c", "gzip -dc '\(tree)/usr/share/man/man1/fullyloaded.1.gz'"])
        #expect(manual.status == 0 && manual.output.contains(".Dt FULLYLOADED 1"), "\(manual.output.prefix(300))")
        for text in ["worker", "monitor", "calibrate", "nginx-upstreams", "Fl -deadline", "Fl -compute-slots"] {
            #expect(manual.output.contains(text), "the man page lacks \(text)")
        }
        #expect(!manual.output.contains("exit-with-parent") && !manual.output.contains("recycle-by-parent"))
        for file in [
            "usr/share/bash-completion/completions/fullyloaded", "usr/share/zsh/vendor-completions/_fullyloaded",
            "usr/share/fish/vendor_completions.d/fullyloaded.fish", "usr/share/doc/fullyloaded/README.md",
            "usr/share/doc/fullyloaded/CHANGELOG.md", "usr/share/doc/fullyloaded/Docs/operations.md",
            "usr/share/doc/fullyloaded/Docs/openapi.yaml", "usr/share/fullyloaded/monitoring/fullyloaded-rules.yml",
            "usr/share/fullyloaded/monitoring/fullyloaded-rules.test.yml",
            "usr/share/fullyloaded/monitoring/grafana-dashboard.json",
        ] {
            let size = (try? FileManager.default.attributesOfItem(atPath: tree + "/" + file)[.size] as? Int) ?? 0
            #expect(size > 100, "\(file): \(size) bytes")
        }
        let bash = try String(
            contentsOfFile: tree + "/usr/share/bash-completion/completions/fullyloaded", encoding: .utf8)
        #expect(bash.contains("complete") && bash.contains("nginx-upstreams"))

        // No Swift on the host: the binary links Debian's libraries only, and runs.
        let binary = tree + "/usr/bin/fullyloaded"
        let libraries = try Command.run("/usr/bin/ldd", [binary])
        #expect(
            libraries.status == 0 && !libraries.output.contains("swift") && !libraries.output.contains("Foundation"),
            "\(libraries.output)")
        // As postinst renders them: from the shipped /etc/default/fullyloaded.
        let upstreams = try Command.run(
            binary, ["nginx-upstreams", "--workers", "2", "--options-from", tree + "/etc/default/fullyloaded"])
        #expect(
            upstreams.status == 0 && upstreams.output.contains("upstream fullyloaded_workers"), "\(upstreams.output)")

        // The site, its snippets and what postinst makes (upstreams, certificate.conf, a pair)
        // pass nginx -t inside a Debian-like nginx.conf.
        let etc = tree + "/etc/nginx"
        try FileManager.default.createDirectory(atPath: etc + "/fullyloaded/tls", withIntermediateDirectories: true)
        try upstreams.output.write(toFile: etc + "/fullyloaded/upstreams.conf", atomically: true, encoding: .utf8)
        // The operator's certificate.conf as postinst installs it, from the package's own copy.
        try FileManager.default.copyItem(
            atPath: tree + "/usr/share/fullyloaded/nginx/certificate.conf",
            toPath: etc + "/fullyloaded/certificate.conf")
        let pair = try Command.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-keyout", etc + "/fullyloaded/tls/fullyloaded.key", "-out", etc + "/fullyloaded/tls/fullyloaded.crt",
                "-subj", "/CN=localhost",
            ])
        #expect(pair.status == 0, "\(pair.output)")
        try """
        worker_processes 1;
        pid \(out)/nginx.pid;
        error_log \(out)/nginx-error.log;
        events { worker_connections 64; }
        http {
            include /etc/nginx/mime.types;
            include sites-available/fullyloaded;
        }
        """.write(toFile: etc + "/nginx.conf", atomically: true, encoding: .utf8)
        let test = try Command.run("/usr/sbin/nginx", ["-t", "-p", etc + "/", "-c", etc + "/nginx.conf"])
        #expect(test.status == 0 && test.output.contains("test is successful"), "\(test.output)")

        let lintian = try Command.run("/usr/bin/lintian", ["--tag-display-limit", "0", package])
        let tags = lintian.output.split(separator: "\n").filter { $0.hasPrefix("E: ") || $0.hasPrefix("W: ") }
        #expect(!tags.contains { $0.hasPrefix("E: ") }, "\(lintian.output)")
        for warning in tags where warning.hasPrefix("W: ") {
            #expect(Self.answeredWarnings.contains { warning.contains(": \($0)") }, "unanswered: \(warning)")
        }
    }
}
