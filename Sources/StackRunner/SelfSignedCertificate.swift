import Foundation
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A self-signed certificate for localhost, made once with the openssl command and kept for
/// the next runs (so a browser's exception for it keeps holding).
///
/// The pair lives in a folder only its owner may change, and is read from there into memory;
/// nginx gets a copy in the stack's private runtime directory. Nothing here follows a symbolic
/// link or changes a file's owner, so a process running as the dropped user cannot point a
/// file of this folder elsewhere and have root hand it over.
public struct SelfSignedCertificate: Sendable {
    /// Where the pair is kept.
    public let directory: String
    /// The certificate (PEM).
    public let certificate: [UInt8]
    /// Its private key (PEM).
    public let key: [UInt8]

    static let certificateName = "localhost.crt"
    static let keyName = "localhost.key"

    /// Where `up` keeps it by default: `$XDG_STATE_HOME/fullyloaded/tls`, else
    /// `~/.local/state/fullyloaded/tls`.
    public static var defaultDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/fullyloaded/tls" }
        return NSHomeDirectory() + "/.local/state/fullyloaded/tls"
    }

    /// Reads the pair in `directory`, making it first if it is not there. The folder must be
    /// this user's and writable by nobody else; the files must be this user's regular files.
    public init(directory: String, openssl: String = "/usr/bin/openssl") throws(StackError) {
        self.directory = directory
        let folder = try Self.openOwnedDirectory(directory)
        defer { close(folder) }
        if faccessat(folder, Self.keyName, F_OK, AT_SYMLINK_NOFOLLOW) != 0
            || faccessat(folder, Self.certificateName, F_OK, AT_SYMLINK_NOFOLLOW) != 0
        {
            try Self.make(in: directory, openssl: openssl)
        }
        key = try Self.readOwnedFile(folder, Self.keyName, in: directory)
        certificate = try Self.readOwnedFile(folder, Self.certificateName, in: directory)
    }

    /// Renames `directory` aside, unread, when it is not this user's alone, and returns the new
    /// name; `nil` when it is fine or absent. Only the folder's own entry in its parent is touched,
    /// so nothing a link points to is followed; the parent must be this user's and closed to others.
    public static func setAsideIfNotOwned(_ directory: String) -> String? {
        var status = stat()
        guard lstat(directory, &status) == 0 else { return nil }
        let isOurs = status.st_mode & S_IFMT == S_IFDIR && status.st_uid == geteuid() && status.st_mode & 0o022 == 0
        guard !isOurs else { return nil }
        let parent = (directory as NSString).deletingLastPathComponent
        var parentStatus = stat()
        guard lstat(parent, &parentStatus) == 0, parentStatus.st_uid == geteuid(), parentStatus.st_mode & 0o022 == 0
        else { return nil }
        let aside = directory + ".untrusted-\(Int(Date().timeIntervalSince1970))"
        return rename(directory, aside) == 0 ? aside : nil
    }

    /// Writes the pair into `directory` (made here, private: 0700, files 0600) and returns the
    /// paths nginx reads.
    public func install(in directory: String) throws(StackError) -> (certificate: String, key: String) {
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw .system(SystemCallError(call: "mkdir(\(directory))", errno: errno))
        }
        let folder = try Self.openOwnedDirectory(directory)
        defer { close(folder) }
        for (name, bytes) in [(Self.certificateName, certificate), (Self.keyName, key)] {
            unlinkat(folder, name, 0)
            let file = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard file >= 0 else { throw .system(SystemCallError(call: "open(\(directory)/\(name))", errno: errno)) }
            defer { close(file) }
            let written = bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
            guard written == bytes.count else {
                throw .system(SystemCallError(call: "write(\(directory)/\(name))", errno: written < 0 ? errno : EIO))
            }
        }
        return (directory + "/" + Self.certificateName, directory + "/" + Self.keyName)
    }

    /// Makes the pair with openssl, in a folder already checked to be ours alone.
    private static func make(in directory: String, openssl: String) throws(StackError) {
        guard FileManager.default.isExecutableFile(atPath: openssl) else { throw .missingFile(openssl) }
        let keyPath = directory + "/" + keyName
        let certificatePath = directory + "/" + certificateName
        let log = directory + "/openssl.log"
        let arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", keyPath + ".new", "-out", certificatePath + ".new", "-days", "825", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        ]
        // openssl writes the key with this process's umask: none of it for anyone else.
        let previous = umask(0o077)
        defer { umask(previous) }
        let status: ExitStatus?
        do {
            let process = try ChildProcess.spawn(executable: openssl, arguments: arguments, standardOutput: log)
            status = try process.wait(timeout: 30)
        } catch {
            throw .system(error)
        }
        guard status == .exited(0) else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw .invalidConfiguration("openssl could not make a certificate: \(output)")
        }
        // Renamed into place only when both exist: a run cut short leaves no half pair behind, and
        // a certificate that cannot follow its key takes the key with it.
        do throws(SystemCallError) {
            try systemCall("rename(\(keyPath))") { rename(keyPath + ".new", keyPath) }
            do throws(SystemCallError) {
                try systemCall("rename(\(certificatePath))") { rename(certificatePath + ".new", certificatePath) }
            } catch {
                unlink(keyPath)
                unlink(certificatePath + ".new")
                throw error
            }
        } catch {
            throw .system(error)
        }
        // Only openssl's log: the pair is in place whatever becomes of it.
        _ = unlink(log)
    }

    /// Opens (or makes, 0700) a folder that must be this user's and writable by nobody else, on a
    /// path no other user can have steered (``DirectoryPath``): as root, neither a link nor a
    /// directory of another user's anywhere on it. The pair is then made and read by name, which
    /// leads where the descriptor does.
    private static func openOwnedDirectory(_ path: String) throws(StackError) -> Int32 {
        let folder: Int32
        do {
            folder = try DirectoryPath.open(path, creating: true).releaseOwnership()
        } catch {
            throw .invalidConfiguration(
                "\(error); it must be uid \(geteuid())'s and writable by nobody else, on a path only root and uid "
                    + "\(geteuid()) can change: remove it, or pass --tls-dir")
        }
        var status = stat()
        guard fstat(folder, &status) == 0 else {
            close(folder)
            throw .system(SystemCallError(call: "fstat(\(path))", errno: errno))
        }
        if status.st_uid != geteuid() || status.st_mode & 0o022 != 0 {
            close(folder)
            throw .invalidConfiguration(
                "\(path) is owned by uid \(status.st_uid) with mode \(String(status.st_mode & 0o777, radix: 8)); "
                    + "it must be uid \(geteuid())'s and writable by nobody else: remove it, or pass --tls-dir")
        }
        return folder
    }

    /// Reads a regular file of this user's in `folder`, never through a symbolic link.
    private static func readOwnedFile(_ folder: Int32, _ name: String, in path: String) throws(StackError) -> [UInt8] {
        let file = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard file >= 0 else { throw .system(SystemCallError(call: "open(\(path)/\(name))", errno: errno)) }
        let descriptor = FileDescriptor(adopting: file)
        defer { descriptor.close() }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_uid == geteuid(),
            status.st_size < 1 << 20
        else {
            throw .invalidConfiguration("\(path)/\(name) is not a regular file of uid \(geteuid())'s")
        }
        var bytes: [UInt8] = []
        while true {
            let chunk: [UInt8]
            do {
                chunk = try descriptor.read(maximum: 65536)
            } catch {
                throw .system(error)
            }
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return bytes
    }
}
