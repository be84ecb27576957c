import Foundation
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The directory a stack keeps its sockets, configuration, logs and nginx's temporary files in:
/// private to the user the stack runs as, and removed on stop when the stack made it. Beside it,
/// a private directory on tmpfs for the workers' shared segments, always the stack's own.
final class RuntimeDirectory {
    /// Where it is.
    let path: String
    /// Where the shared segments are: a fresh directory of this user's alone, in `/dev/shm`
    /// (tmpfs, as a mapping shared by every worker wants) where it can be made, else in `path`.
    private(set) var segmentDirectory = ""
    /// Whether the stack made it, and so removes it.
    private var owned: Bool

    /// Uses `given` (made if missing) or makes a fresh one under /tmp, then makes it private and
    /// adds nginx's temporary directory.
    init(given: String?) throws(StackError) {
        if let given {
            do {
                try FileManager.default.createDirectory(atPath: given, withIntermediateDirectories: true)
            } catch {
                throw .invalidConfiguration("cannot create runtime directory \(given): \(error)")
            }
            path = given
            owned = false
        } else {
            var template = Array("/tmp/fullyloaded.XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw .system(SystemCallError(call: "mkdtemp", errno: errno)) }
            path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            owned = true
        }
        do {
            try prepare()
        } catch {
            remove()
            throw error
        }
    }

    private func prepare() throws(StackError) {
        do throws(SystemCallError) {
            // Private: nginx, the workers and the monitor all run as this user (root was dropped first).
            try systemCall("chmod(\(path))") { chmod(path, 0o700) }
            let temporary = path + "/nginx-tmp"
            if mkdir(temporary, 0o700) == -1 && errno != EEXIST {
                throw SystemCallError(call: "mkdir(\(temporary))", errno: errno)
            }
            // As root, nginx's worker processes run as nobody and write request bodies here.
            if geteuid() == 0, let nobody = getpwnam("nobody") {
                let (uid, gid) = (nobody.pointee.pw_uid, nobody.pointee.pw_gid)
                try systemCall("chown(\(temporary))") { chown(temporary, uid, gid) }
            }
            // A random name no other user can have taken first (mkdtemp makes it, 0700).
            var template = Array("/dev/shm/fullyloaded.XXXXXX".utf8CString)
            if mkdtemp(&template) != nil {
                segmentDirectory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            } else {
                let fallback = path + "/segments"
                if mkdir(fallback, 0o700) == -1 && errno != EEXIST {
                    throw SystemCallError(call: "mkdir(\(fallback))", errno: errno)
                }
                segmentDirectory = fallback
            }
        } catch {
            throw .system(error)
        }
    }

    /// The segments' directory is always this object's own: it goes with it.
    deinit { removeSegmentDirectory() }

    private func removeSegmentDirectory() {
        guard segmentDirectory.hasPrefix("/dev/shm/") else { return }
        try? FileManager.default.removeItem(atPath: segmentDirectory)
        segmentDirectory = ""
    }

    /// Removes the directory if the stack made it (and the segments' directory always); a second
    /// call does nothing.
    func remove() {
        removeSegmentDirectory()
        guard owned else { return }
        owned = false
        try? FileManager.default.removeItem(atPath: path)
    }
}
