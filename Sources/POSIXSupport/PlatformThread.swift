import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// Starts detached OS threads: libfcgi blocks a whole thread per connection, so its request loops
/// and compute loops run on threads of their own, never on Swift's cooperative pool.
public enum PlatformThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a detached thread running `body`, with a stack of `stackSize` bytes.
    public static func startDetached(
        name: String,
        stackSize: Int = 512 * 1024,
        _ body: @escaping @Sendable () -> Void
    ) throws(SystemCallError) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, stackSize)
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let threadName = String(name.prefix(15))
        do {
            try systemCallReturningError("pthread_create") {
                pthread_create(
                    &thread, &attributes,
                    { argument in
                        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                        box.body()
                        return nil
                    }, box)
            }
        } catch {
            Unmanaged<Box>.fromOpaque(box).release()
            throw error
        }
        _ = fl_set_thread_name(thread, threadName)
    }

    /// The calling thread's kernel id.
    public static var currentThreadID: pid_t { fl_gettid() }

    /// Sets the calling thread's nice value (Linux nice is per thread); raising priority (below 0)
    /// needs CAP_SYS_NICE.
    public static func setCurrentThreadNiceness(_ niceness: Int32) throws(SystemCallError) {
        try systemCall("setpriority") { fl_set_thread_niceness(niceness) }
    }
}

/// Asks the kernel to send `signal` to this process when its parent exits, so that a supervisor
/// killed with SIGKILL leaves no orphaned children behind.
public func setParentDeathSignal(_ signal: Int32) throws(SystemCallError) {
    try systemCall("prctl(PR_SET_PDEATHSIG)") { fl_set_parent_death_signal(signal) }
}

/// Keeps this process's memory (passwords, in a worker) out of core files and away from other
/// processes of the same user: no core dump, no ptrace attach, no `/proc/PID/mem`.
public func forbidCoreDumps() throws(SystemCallError) {
    try systemCall("prctl(PR_SET_DUMPABLE)") { fl_forbid_core_dumps() }
}
