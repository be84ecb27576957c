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
    init(mode text: String, group name: String?) throws {
        guard let mode = mode_t(text, radix: 8), mode & ~0o777 == 0, mode & 0o007 == 0 else {
            throw ValidationError("--socket-mode must be octal, e.g. 600 or 660, with nothing for others")
        }
        self.mode = mode
        if let name {
            guard let entry = getgrnam(name) else { throw ValidationError("--socket-group \(name): no such group") }
            group = entry.pointee.gr_gid
        }
    }
}
