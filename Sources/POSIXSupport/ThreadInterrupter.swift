import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// Interrupts a thread blocked in a system call (accept, read) by sending it a signal whose
/// handler does nothing: the call returns EINTR, and the thread can look at why.
///
/// This wakes threads in accept(2) on a listening socket that must stay intact for others —
/// one inherited from systemd, which hands it to the next worker — where shutdown(2) would
/// break it for everyone.
public struct ThreadInterrupter: Sendable {
    /// The signal used.
    public let signal: Int32

    /// Installs the do-nothing handler for `signal` (process-wide).
    public init(signal: Int32 = SIGUSR2) throws(SystemCallError) {
        self.signal = signal
        try systemCall("sigaction") { fl_install_interrupting_signal(signal) }
    }

    /// Lets the signal reach the calling thread (threads usually inherit a blocked mask).
    public func allowInCallingThread() throws(SystemCallError) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        try systemCallReturningError("pthread_sigmask") { pthread_sigmask(SIG_UNBLOCK, &set, nil) }
    }

    /// Interrupts `thread`'s blocking call, if it is in one.
    public func interrupt(_ thread: pthread_t) {
        // ESRCH (the thread has just ended) is the only failure, and then there is nothing to wake.
        _ = pthread_kill(thread, signal)
    }
}
