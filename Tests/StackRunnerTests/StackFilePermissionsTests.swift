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

    /// Runs `up` as root with `--tls-dir directory` and returns how it ended and what it said.
    static func upAsRoot(tlsDirectory: String) throws -> (status: POSIXSupport.ExitStatus?, log: String) {
        let log = try TestFiles.makeTemporaryDirectory(prefix: "fl-up") + "/up.log"
        let port = try LoopbackPort.ephemeral()
        let up = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "up", "--http-port", "\(port)", "--https-port", "\(try LoopbackPort.ephemeral())", "--tls-dir",
                tlsDirectory, "--workers", "1", "--threads", "16", "--cost", "4",
            ],
            standardOutput: log)
        let status = try up.wait(timeout: 20)
        if status == nil { _ = try? up.stop(grace: 5) }
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
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
