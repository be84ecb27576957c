#if canImport(Glibc)
    import Glibc
#endif

/// A set of POSIX signals, for blocking them in every thread and waiting for them in one place.
///
/// Blocking first and `sigwait`ing in one thread is what keeps libfcgi's own handlers (it installs
/// SIGTERM/SIGPIPE/SIGUSR1 handlers when they are at default) out of the way.
public struct SignalSet: Sendable {
    private var signals: [Int32]

    /// Creates a set of the given signals.
    public init(_ signals: [Int32]) {
        self.signals = signals
    }

    private func makeSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    /// Blocks the set in the calling thread; threads started afterwards inherit the mask.
    public func blockInCallingThread() throws(SystemCallError) {
        var set = makeSet()
        try systemCallReturningError("pthread_sigmask") { pthread_sigmask(SIG_BLOCK, &set, nil) }
    }

    /// Waits until one signal of the set is pending and returns it. The set must be blocked.
    public func wait() -> Int32 {
        var set = makeSet()
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    /// Waits at most `seconds` for a signal of the set; `nil` when the time ran out.
    public func wait(timeout seconds: Double) -> Int32? {
        var set = makeSet()
        var timeout = timespec(
            tv_sec: Int(seconds),
            tv_nsec: Int((seconds - Double(Int(seconds))) * 1_000_000_000)
        )
        while true {
            let result = sigtimedwait(&set, nil, &timeout)
            if result >= 0 { return result }
            if errno == EINTR { continue }
            return nil
        }
    }

    /// Like ``wait(timeout:)``, and also says which process sent the signal (0 for the kernel).
    public func waitWithSender(timeout seconds: Double) -> (signal: Int32, sender: pid_t)? {
        var set = makeSet()
        var timeout = timespec(
            tv_sec: Int(seconds),
            tv_nsec: Int((seconds - Double(Int(seconds))) * 1_000_000_000)
        )
        var info = siginfo_t()
        while true {
            let result = sigtimedwait(&set, &info, &timeout)
            if result >= 0 { return (result, info._sifields._kill.si_pid) }
            if errno == EINTR { continue }
            return nil
        }
    }
}
