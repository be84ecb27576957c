import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// How a child process ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        // The WIFEXITED/WEXITSTATUS macros are not imported; these are their glibc definitions.
        if status & 0x7f == 0 {
            self = .exited((status >> 8) & 0xff)
        } else {
            self = .signaled(status & 0x7f)
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// A child process started with `posix_spawn`, with default signal handling and an empty signal mask
/// whatever the parent has blocked.
public struct ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t

    /// Starts `executable` with `arguments` (not including argv[0]).
    ///
    /// - Parameters:
    ///   - environment: the child's environment; `nil` inherits the parent's.
    ///   - standardOutput: a file to send stdout and stderr to (appended); `nil` inherits them.
    ///   - inheritedDescriptors: descriptors to place at 3, 4, … in the child (socket activation).
    ///   - newSession: a session of its own (no controlling terminal), not only a process group.
    ///     A session is also a CPU scheduling group of its own where the kernel groups by session
    ///     (autogroup): its threads' nice values then weigh only against each other.
    public static func spawn(
        executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        standardOutput: String? = nil,
        inheritedDescriptors: [Int32] = [],
        newSession: Bool = false
    ) throws(SystemCallError) -> ChildProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // A process group of its own: a Ctrl-C at the terminal reaches the supervisor only,
        // which then stops its children in order.
        var flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newSession {
            flags |= fl_posix_spawn_setsid_flag()
        } else {
            flags |= Int16(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, flags)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Nothing to read from the terminal either.
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let standardOutput {
            posix_spawn_file_actions_addopen(
                &actions, 1, standardOutput, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Copies above the target range first: dup2 onto itself would keep FD_CLOEXEC, and a
        // source inside 3..<3+count could be overwritten before it is moved.
        let firstFree = 3 + Int32(inheritedDescriptors.count)
        var copies: [Int32] = []
        defer { for copy in copies { close(copy) } }
        for descriptor in inheritedDescriptors {
            copies.append(try systemCall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(descriptor, F_DUPFD_CLOEXEC, firstFree) })
        }
        for (index, copy) in copies.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, copy, 3 + Int32(index))
        }

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { for pointer in argv { free(pointer) } }
        let envStrings: [UnsafeMutablePointer<CChar>?]? = environment.map { variables in
            variables.map { (key, value) in strdup("\(key)=\(value)") }
        }
        defer { for pointer in envStrings ?? [] { free(pointer) } }

        var pid: pid_t = 0
        try systemCallReturningError("posix_spawn(\(executable))") {
            (argv + [nil]).withUnsafeBufferPointer { argvPointer in
                let argvBase = UnsafeMutablePointer(mutating: argvPointer.baseAddress!)
                if let envStrings {
                    return (envStrings + [nil]).withUnsafeBufferPointer { envPointer in
                        posix_spawn(
                            &pid, executable, &actions, &attributes, argvBase,
                            UnsafeMutablePointer(mutating: envPointer.baseAddress!))
                    }
                }
                return posix_spawn(&pid, executable, &actions, &attributes, argvBase, environ)
            }
        }
        return ChildProcess(pid: pid)
    }

    /// Wraps an existing child's pid.
    public init(pid: pid_t) {
        self.pid = pid
    }

    /// Sends `signal` to the child; a child that is already gone is not an error.
    public func send(_ signal: Int32) {
        _ = kill(pid, signal)
    }

    /// Reaps the child if it has ended; `nil` while it runs.
    public func reapIfEnded() throws(SystemCallError) -> ExitStatus? {
        var status: Int32 = 0
        let result = try systemCall("waitpid(\(pid))") { waitpid(pid, &status, WNOHANG) }
        return result == 0 ? nil : ExitStatus(waitStatus: status)
    }

    /// Waits for the child to end, at most `seconds`; `nil` if it still runs then.
    public func wait(timeout seconds: Double) throws(SystemCallError) -> ExitStatus? {
        let deadline = MonotonicClock.now + seconds
        while true {
            if let status = try reapIfEnded() { return status }
            if MonotonicClock.now >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Asks the child to stop with `signal`, and kills it if it has not ended after `grace` seconds.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, grace: Double) throws(SystemCallError) -> ExitStatus {
        send(signal)
        if let status = try wait(timeout: grace) { return status }
        send(SIGKILL)
        return try wait(timeout: 10) ?? .signaled(SIGKILL)
    }
}

/// The controlling terminal of the process, which its children inherit.
public enum ControllingTerminal {
    /// What ``detach()`` did.
    public enum Outcome: Equatable, Sendable {
        /// There was none.
        case none
        /// This process no longer has one; its process group is unchanged, so the terminal's
        /// Ctrl-C still reaches it.
        case detached
        /// This process leads the terminal's session, and giving the terminal up would hang up
        /// the session: it keeps it, and its children must be started in sessions of their own.
        case sessionLeader
    }

    /// Gives up the controlling terminal, so that no child started after this inherits it: a
    /// child (which may run as a lesser user) could otherwise push input into the terminal of
    /// the root shell that started this process (TIOCSTI works on one's controlling terminal).
    public static func detach() -> Outcome {
        let terminal = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard terminal >= 0 else { return .none }
        defer { close(terminal) }
        if getsid(0) == getpid() { return .sessionLeader }
        return fl_drop_controlling_terminal(terminal) == 0 ? .detached : .sessionLeader
    }
}
