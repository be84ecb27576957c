#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX counting semaphore (sem_init, not shared between processes): threads block in
/// ``wait()`` until another ``signal()``s.
public final class CountingSemaphore: @unchecked Sendable {
    private let semaphore: UnsafeMutablePointer<sem_t>

    /// Creates a semaphore with a count of `initial`.
    public init(initial: UInt32 = 0) throws(SystemCallError) {
        semaphore = .allocate(capacity: 1)
        do {
            try systemCall("sem_init") { sem_init(semaphore, 0, initial) }
        } catch {
            semaphore.deallocate()
            throw error
        }
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Adds one to the count, waking one waiter.
    public func signal() {
        sem_post(semaphore)
    }

    /// Blocks until the count is above zero, then takes one (a signal does not end the wait).
    public func wait() {
        while sem_wait(semaphore) != 0 {}
    }
}
