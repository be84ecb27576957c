import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// An epoll set that reports which of its descriptors got input or a hang-up, and that another
/// thread can wake at once. It owns the epoll and wake-up descriptors, not the watched ones.
public final class EventPoll: Sendable {
    private let epoll: FileDescriptor
    private let wakeCounter: FileDescriptor

    /// Creates an empty set.
    public init() throws(SystemCallError) {
        epoll = FileDescriptor(adopting: try systemCall("epoll_create1") { fl_epoll_create() })
        do {
            wakeCounter = FileDescriptor(adopting: try systemCall("eventfd") { fl_eventfd() })
            try systemCall("epoll_ctl(ADD)") { fl_epoll_watch(epoll.rawValue, wakeCounter.rawValue) }
        } catch {
            epoll.close()
            throw error
        }
    }

    /// Closes the set (the watched descriptors stay open).
    public func close() {
        wakeCounter.close()
        epoll.close()
    }

    /// Reports `descriptor` once each time input (or the peer's hang-up) arrives on it.
    public func watch(_ descriptor: Int32) throws(SystemCallError) {
        try systemCall("epoll_ctl(ADD)") { fl_epoll_watch(epoll.rawValue, descriptor) }
    }

    /// Stops reporting `descriptor`; closing it does too.
    public func forget(_ descriptor: Int32) {
        // ENOENT or EBADF only: it was never watched, or is closed, and is reported no more.
        _ = fl_epoll_forget(epoll.rawValue, descriptor)
    }

    /// Makes a ``wait(into:timeoutMilliseconds:)`` in progress, or the next one, return.
    public func wake() {
        var one: UInt64 = 1
        // EAGAIN only, when the counter is already near its maximum: a wake-up is pending anyway.
        _ = Glibc.write(wakeCounter.rawValue, &one, MemoryLayout<UInt64>.size)
    }

    /// Waits at most `timeoutMilliseconds` (−1: without end) and returns the descriptors with
    /// news, written to the front of `ready`, and whether ``wake()`` was called.
    public func wait(into ready: inout [Int32], timeoutMilliseconds: Int32) -> (count: Int, woken: Bool) {
        let count = ready.withUnsafeMutableBufferPointer { buffer in
            fl_epoll_wait(epoll.rawValue, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
        }
        // EINTR: a signal, nothing ready.
        guard count > 0 else { return (0, false) }
        var kept = 0
        var woken = false
        for index in 0..<Int(count) {
            if ready[index] == wakeCounter.rawValue {
                woken = true
                var value: UInt64 = 0
                _ = Glibc.read(wakeCounter.rawValue, &value, MemoryLayout<UInt64>.size)
            } else {
                ready[kept] = ready[index]
                kept += 1
            }
        }
        return (kept, woken)
    }
}

/// poll(2) event masks Swift's Glibc does not spell.
public enum PollEvents {
    /// Input, or the peer's hang-up (POLLIN | POLLRDHUP).
    public static let inputOrHangUp = Int16(POLLIN) | fl_poll_read_hangup()
}

extension FileDescriptor {
    /// accept(2)s one connection on this listening socket, close-on-exec, without retrying: the
    /// new descriptor, or −1 and the errno (EINTR when a signal woke the caller).
    public func acceptConnection() -> (descriptor: Int32, errno: Int32) {
        let descriptor = fl_accept(rawValue)
        return (descriptor, descriptor < 0 ? errno : 0)
    }
}
