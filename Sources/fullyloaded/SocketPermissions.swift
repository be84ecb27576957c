import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// Who may connect to a unix socket a command makes: its mode and, optionally, its group.
///
/// Anyone who can connect to a worker speaks raw FastCGI past nginx's limits, and to the
/// monitor past `/metrics`' loopback rule: the default is the service's own user only.
struct SocketPermissions {
    var mode: mode_t
    var group: gid_t?

    /// Parses `--socket-mode` (octal, nothing for others) and `--socket-group` (a group name).
    /// Bits for others are taken only for a socket in `directory` when that directory is this
    /// user's (or root's) and closed to others: then only its group can reach the socket, as
    /// nginx's group reaches the monitor's through `/run/fullyloaded-monitor` (0750).
    init(mode text: String, group name: String?, directory: String? = nil) throws {
        guard let mode = mode_t(text, radix: 8), mode & ~0o777 == 0,
            mode & 0o007 == 0 || directory.map(Self.isClosedToOthers) == true
        else {
            throw ValidationError(
                "--socket-mode must be octal, e.g. 600 or 660, with nothing for others (unless the socket's directory is closed to others)"
            )
        }
        self.mode = mode
        if let name {
            guard let entry = getgrnam(name) else { throw ValidationError("--socket-group \(name): no such group") }
            group = entry.pointee.gr_gid
        }
    }

    /// Whether others can neither enter nor change `directory`, and no other user owns it.
    static func isClosedToOthers(_ directory: String) -> Bool {
        var status = stat()
        guard lstat(directory, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else { return false }
        return (status.st_uid == geteuid() || status.st_uid == 0) && status.st_mode & 0o007 == 0
    }
}
