#if canImport(Glibc)
    import Glibc
#endif

/// Opening a directory by its absolute path so that no one but root and this user can have
/// chosen where it leads.
///
/// The path is walked from `/` one component at a time with `openat` and `O_NOFOLLOW`, so no
/// symbolic link is followed anywhere on it, and each directory on the way is checked through
/// its descriptor: it must be root's or this user's, and writable by no one else unless it is
/// sticky (as `/tmp` is: there, others cannot rename or remove what they do not own, and what
/// they made themselves is refused as the next step's owner). A path that passes names, for as
/// long as its directories keep their owners, the directory whose descriptor is returned: no
/// other user can swap a component between the check and a use by name.
public enum DirectoryPath {
    /// Opens the directory at `path`; missing components are made on the way (`mkdirat`; 0755
    /// for those above the last, `mode` for the last) when `creating` is set. The last may also
    /// be `lastOwner`'s (a user it was handed to before), whatever its mode.
    public static func open(
        _ path: String, creating: Bool = false, mode: mode_t = 0o700, lastOwner: uid_t? = nil
    ) throws(SystemCallError) -> FileDescriptor {
        guard path.hasPrefix("/") else {
            throw SystemCallError(call: "open(\(path)): not an absolute path", errno: EINVAL)
        }
        let components = path.split(separator: "/").map(String.init)
        guard !components.contains(where: { $0 == "." || $0 == ".." }) else {
            throw SystemCallError(call: "open(\(path)): . or .. in the path", errno: EINVAL)
        }
        var current = FileDescriptor(
            adopting: try systemCall("open(/)") { Glibc.open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC) })
        var walked = ""
        do throws(SystemCallError) {
            try check(current, walked.isEmpty ? "/" : walked)
            for (index, component) in components.enumerated() {
                walked += "/" + component
                let last = index == components.count - 1
                var next = Glibc.openat(current.rawValue, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if next < 0, errno == ENOENT, creating {
                    if Glibc.mkdirat(current.rawValue, component, last ? mode : 0o755) != 0, errno != EEXIST {
                        throw SystemCallError(call: "mkdir(\(walked))", errno: errno)
                    }
                    next = Glibc.openat(current.rawValue, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                guard next >= 0 else {
                    let code = errno
                    // ELOOP or ENOTDIR: a symbolic link (or a file) where a directory should be.
                    throw SystemCallError(
                        call: code == ELOOP || code == ENOTDIR
                            ? "open(\(walked)): not a directory, or a link" : "open(\(walked))",
                        errno: code)
                }
                let opened = FileDescriptor(adopting: next)
                current.close()
                current = opened
                try check(current, walked, alsoOwnedBy: last ? lastOwner : nil)
            }
        } catch {
            current.close()
            throw error
        }
        return current
    }

    /// Why a directory on the way is not to be trusted, if it is not.
    static func problem(owner: uid_t, mode: mode_t) -> String? {
        if owner != 0 && owner != geteuid() { return "owned by uid \(owner)" }
        if mode & 0o022 != 0 && mode & S_ISVTX == 0 {
            return "writable by others (mode \(String(mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    private static func check(_ directory: FileDescriptor, _ path: String, alsoOwnedBy owner: uid_t? = nil)
        throws(SystemCallError)
    {
        var status = stat()
        try systemCall("fstat(\(path))") { fstat(directory.rawValue, &status) }
        if let owner, status.st_uid == owner { return }
        if let problem = problem(owner: status.st_uid, mode: status.st_mode) {
            throw SystemCallError(call: "\(path): \(problem); refusing it", errno: EPERM)
        }
    }
}
