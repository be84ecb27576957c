import Foundation
import POSIXSupport
import StackRunner
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What `up` leaves where: nothing another local user may change or speak to, and nothing root
/// touches on behalf of the user it drops to.
@Suite("fullyloaded up: files, sockets and the dropped user", .serialized)
struct StackFilePermissionsTests {
    static func mode(_ path: String) -> mode_t {
        var status = stat()
        return lstat(path, &status) == 0 ? status.st_mode & 0o777 : 0o7777
    }

    @Test("worker and monitor sockets, the runtime directory and nginx's copy of the key are the stack's user's alone")
    func privateFiles() throws {
        let stack = try TestStack(workers: 2)
        defer { _ = try? stack.stop() }
        #expect(Self.mode(stack.runtimeDirectory) == 0o700)
        for socket in ["worker-0.sock", "worker-1.sock", "monitor.sock"] {
            #expect(Self.mode(stack.runtimeDirectory + "/" + socket) == 0o600, "\(socket)")
        }
        #expect(Self.mode(stack.runtimeDirectory + "/tls/localhost.key") == 0o600)
        #expect(Self.mode(stack.runtimeDirectory + "-tls") == 0o700, "the kept pair's folder")
        #expect(try stack.client().request("GET", "/api/ping").status == 200)
    }

    @Test(
        "the shared segment's old name in /dev/shm, taken first by another user, changes nothing: up maps a file in a private directory of its own"
    )
    func squattedSegmentName() throws {
        // The name earlier versions derived from the runtime directory, taken before up starts:
        // by another user as root can plant it, or writable by everyone otherwise. Either made
        // every worker refuse to start.
        let runtime = "/tmp/fl-squat.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let squatted = "/dev/shm/fullyloaded." + (runtime as NSString).lastPathComponent
        for path in [squatted, squatted + ".lock"] {
            let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL, 0o600)
            try #require(descriptor >= 0, "\(path): errno \(errno)")
            if geteuid() == 0 { fchown(descriptor, 65534, 65534) } else { fchmod(descriptor, 0o666) }
            close(descriptor)
        }
        defer { for path in [squatted, squatted + ".lock"] { unlink(path) } }
        let stack = try TestStack(workers: 2, cost: 4, runtimeDirectory: runtime)
        defer { _ = try? stack.stop() }
        let response = try stack.client().request(
            "POST", "/api/hash", body: Array(#"{"password":"squatted","cost":4}"#.utf8))
        #expect(response.status == 200, "\(response)")
        let segment = try #require(stack.segmentPaths.first)
        #expect(segment != squatted && !segment.hasPrefix(squatted))
        let directory = (segment as NSString).deletingLastPathComponent
        var status = stat()
        // The stack's user's: as root, the user up drops to.
        let user = geteuid() == 0 ? getpwnam("fullyloaded-up").map { $0.pointee.pw_uid } ?? 0 : geteuid()
        #expect(lstat(directory, &status) == 0 && status.st_uid == user, "\(directory): uid \(status.st_uid)")
        #expect(status.st_mode & 0o7777 == 0o700 && status.st_mode & S_IFMT == S_IFDIR, "\(directory)")
        #expect(Self.mode(segment) == 0o600 && Self.mode(segment + ".lock") == 0o600)
        // Stopped, it leaves nothing behind in /dev/shm.
        #expect(try stack.stop() == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: directory), "\(directory) left")
    }

    /// Runs `up` as root with `--tls-dir directory` and returns how it ended and what it said.
    static func upAsRoot(tlsDirectory: String) throws -> (status: POSIXSupport.ExitStatus?, log: String) {
        try upAsRoot(["--tls-dir", tlsDirectory])
    }

    @Test(
        "as root, a TLS folder the dropped user could change is refused, and its planted link followed nowhere",
        .enabled(if: geteuid() == 0, "only root can plant files as another user and run up as root"))
    func plantedKeyIsNotFollowed() throws {
        let folder = try TestFiles.makeTemporaryDirectory(prefix: "fl-tls-planted")
        let secret = try TestFiles.makeTemporaryDirectory(prefix: "fl-secret") + "/shadow"
        try "root's secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        chmod(secret, 0o600)
        // What an older up left, and what `nobody` then did to it: its own folder, the key a link.
        symlink(secret, folder + "/localhost.key")
        try "not a certificate\n".write(toFile: folder + "/localhost.crt", atomically: true, encoding: .utf8)
        chown(folder, 65534, 65534)
        lchown(folder + "/localhost.key", 65534, 65534)
        let refused = try Self.upAsRoot(tlsDirectory: folder)
        #expect(refused.status != nil && refused.status != .exited(0), "\(refused.log)")
        #expect(refused.log.contains("writable by nobody else"), "\(refused.log)")
        var status = stat()
        #expect(stat(secret, &status) == 0 && status.st_uid == 0 && status.st_mode & 0o777 == 0o600)

        // Root's own folder with the key a link: the link is not opened.
        chown(folder, 0, 0)
        chmod(folder, 0o700)
        let linked = try Self.upAsRoot(tlsDirectory: folder)
        #expect(linked.status != nil && linked.status != .exited(0), "\(linked.log)")
        #expect(stat(secret, &status) == 0 && status.st_uid == 0 && status.st_mode & 0o777 == 0o600)
    }

    /// Runs `up` as root with `arguments` added and returns how it ended and what it said.
    static func upAsRoot(_ arguments: [String]) throws -> (status: POSIXSupport.ExitStatus?, log: String) {
        let log = try TestFiles.makeTemporaryDirectory(prefix: "fl-up") + "/up.log"
        let up = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "up", "--http-port", "\(try LoopbackPort.ephemeral())", "--https-port",
                "\(try LoopbackPort.ephemeral())", "--workers", "1", "--threads", "16", "--cost", "4",
            ] + arguments,
            standardOutput: log)
        let status = try up.wait(timeout: 20)
        if status == nil { _ = try? up.stop(grace: 5) }
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    @Test(
        "as root, --runtime-dir and --tls-dir through a link or a directory another user owns are refused: nothing of root's is handed over or written",
        .enabled(if: geteuid() == 0, "only root can run up as root and make files as another user"))
    func rootPathsAreWalked() throws {
        let tag = "\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        // nobody's folder in /tmp, and in it a link of nobody's to /tmp: the path
        // /tmp/fl-p.TAG/l/fl-target.TAG leads to /tmp/fl-target.TAG, which root would make and hand over.
        let folder = "/tmp/fl-p.\(tag)"
        mkdir(folder, 0o755)
        chown(folder, 65534, 65534)
        symlink("/tmp", folder + "/l")
        lchown(folder + "/l", 65534, 65534)
        let target = "/tmp/fl-target.\(tag)"
        defer {
            for path in [folder + "/l", folder + "/run", folder] { _ = remove(path) }
            _ = remove(target)
            _ = remove(target + "-tls")
        }
        var status = stat()
        for arguments in [
            ["--runtime-dir", folder + "/l/fl-target.\(tag)"],
            ["--tls-dir", folder + "/l/fl-target.\(tag)-tls"],
            // A real directory, but nobody's: between a check and a use it could swap what is in it.
            ["--runtime-dir", folder + "/run"],
        ] {
            let run = try Self.upAsRoot(arguments)
            #expect(run.status != nil && run.status != .exited(0), "\(arguments): \(run.log)")
            #expect(run.log.contains("refusing it"), "\(arguments): \(run.log)")
        }
        // Nothing made or handed over where the link leads, nor below nobody's folder.
        #expect(lstat(target, &status) != 0, "\(target) exists, owned by uid \(status.st_uid)")
        #expect(lstat(target + "-tls", &status) != 0, "\(target)-tls exists")
        #expect(
            lstat(folder + "/run", &status) != 0 || status.st_uid == 0, "nobody's folder got a directory of nobody's")
    }

    @Test(
        "as root, a certificate folder an earlier version handed to nobody is set aside unread",
        .enabled(if: geteuid() == 0, "only root can make a folder owned by another user"))
    func legacyFolderSetAside() throws {
        let parent = try TestFiles.makeTemporaryDirectory(prefix: "fl-state")
        chmod(parent, 0o755)
        let folder = parent + "/tls"
        mkdir(folder, 0o755)
        chown(folder, 65534, 65534)
        let aside = try #require(SelfSignedCertificate.setAsideIfNotOwned(folder))
        #expect(!FileManager.default.fileExists(atPath: folder) && FileManager.default.fileExists(atPath: aside))
        // A fresh one is root's own, and left where it is.
        let fresh = try SelfSignedCertificate(directory: folder)
        #expect(!fresh.key.isEmpty && !fresh.certificate.isEmpty)
        #expect(SelfSignedCertificate.setAsideIfNotOwned(folder) == nil)
        #expect(Self.mode(folder) == 0o700)
    }
}
