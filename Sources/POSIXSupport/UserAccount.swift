#if canImport(Glibc)
    import Glibc
#endif

/// A local user account, for dropping root before starting anything that does not need it.
public struct UserAccount: Sendable {
    /// The login name.
    public let name: String
    /// Its user id.
    public let userID: uid_t
    /// Its primary group id.
    public let groupID: gid_t

    /// Looks `name` up in the user database.
    public init(named name: String) throws(SystemCallError) {
        errno = 0
        guard let entry = getpwnam(name) else {
            throw SystemCallError(call: "getpwnam(\(name))", errno: errno == 0 ? ENOENT : errno)
        }
        self.name = name
        userID = entry.pointee.pw_uid
        groupID = entry.pointee.pw_gid
    }

    /// Whether other daemons may run as this account too (`nobody`): then they could read and
    /// signal whatever runs as it.
    public var isShared: Bool { name == "nobody" || userID == 65534 }

    /// Makes a system account `name` with a group of its own, no home and no login shell
    /// (`useradd --system`), and returns it.
    public static func createSystemAccount(named name: String, comment: String) throws(SystemCallError)
        -> UserAccount
    {
        let process = try ChildProcess.spawn(
            executable: "/usr/sbin/useradd",
            arguments: [
                "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                "/usr/sbin/nologin", "--comment", comment, name,
            ], standardOutput: "/dev/null")
        let status = try process.wait(timeout: 30)
        guard status == .exited(0) else {
            if status == nil { _ = try? process.stop(grace: 1) }
            throw SystemCallError(call: "useradd \(name) (\(status.map { "\($0)" } ?? "timed out"))", errno: EPERM)
        }
        return try UserAccount(named: name)
    }

    /// Gives the directory at `path` (made if missing) to this account, mode 0700, through its
    /// descriptor: the path is walked from `/` without following a link (``DirectoryPath``), every
    /// directory above it root's and closed to others, and the directory itself root's or already
    /// this account's. So no other user can have pointed it at a directory of root's.
    public func takeOwnership(ofDirectory path: String) throws(SystemCallError) {
        let directory = try DirectoryPath.open(path, creating: true, lastOwner: userID)
        defer { directory.close() }
        try systemCall("fchown(\(path))") { fchown(directory.rawValue, userID, groupID) }
        try systemCall("fchmod(\(path))") { fchmod(directory.rawValue, 0o700) }
    }

    /// Becomes this account for good: supplementary groups dropped, then group, then user.
    /// Checks that root cannot be regained, rather than trusting the calls.
    public func become() throws(SystemCallError) {
        var group = groupID
        try systemCall("setgroups") { setgroups(1, &group) }
        try systemCall("setgid") { setgid(groupID) }
        try systemCall("setuid") { setuid(userID) }
        if userID != 0, setuid(0) == 0 { throw SystemCallError(call: "setuid(0) after dropping root", errno: EPERM) }
    }
}
