import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// An epoll set and the one thread that waits on it: which descriptors are ready, without a
/// thread per descriptor.
///
/// It owns the epoll descriptor and an eventfd that ``wake()`` writes to, from any thread, to
/// end a wait early. The descriptors it watches stay their callers' to close (remove them first).
public final class EventPoll: @unchecked Sendable {
    /// Readiness bits, as epoll(7) names them.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Data to read, or a connection to accept.
        public static let readable = Events(rawValue: EPOLLIN.rawValue)
        /// The peer closed its side.
        public static let peerClosed = Events(rawValue: EPOLLRDHUP.rawValue)
        /// An error or a hang-up (always reported).
        public static let failed = Events(rawValue: EPOLLERR.rawValue | EPOLLHUP.rawValue)
        /// Report a change once (edge-triggered), not for as long as it holds.
        public static let edgeTriggered = Events(rawValue: EPOLLET.rawValue)
        /// Report one event, then nothing until ``EventPoll/rearm(_:events:)``.
        public static let oneShot = Events(rawValue: EPOLLONESHOT.rawValue)
    }

    private let poll: FileDescriptor
    private let wakeUp: FileDescriptor
    private let readyDescriptors: UnsafeMutablePointer<Int32>
    private let readyEvents: UnsafeMutablePointer<UInt32>
    private static let capacity = 64

    /// Creates an empty set.
    public init() throws(SystemCallError) {
        poll = FileDescriptor(adopting: try systemCall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        do {
            wakeUp = FileDescriptor(
                adopting: try systemCall("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) })
        } catch {
            poll.close()
            throw error
        }
        readyDescriptors = .allocate(capacity: Self.capacity)
        readyEvents = .allocate(capacity: Self.capacity)
        do {
            try add(wakeUp.rawValue, events: .readable)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        readyDescriptors.deallocate()
        readyEvents.deallocate()
    }

    /// Closes the set and its wake-up descriptor.
    public func close() {
        wakeUp.close()
        poll.close()
    }

    /// Starts watching `descriptor`.
    public func add(_ descriptor: Int32, events: Events) throws(SystemCallError) {
        try systemCall("epoll_ctl(ADD)") {
            fl_epoll_control(poll.rawValue, EPOLL_CTL_ADD, descriptor, events.rawValue)
        }
    }

    /// Watches a one-shot descriptor again, from any thread; data already waiting is reported.
    public func rearm(_ descriptor: Int32, events: Events) throws(SystemCallError) {
        try systemCall("epoll_ctl(MOD)") {
            fl_epoll_control(poll.rawValue, EPOLL_CTL_MOD, descriptor, events.rawValue)
        }
    }

    /// Stops watching `descriptor`; one it was not watching is no error.
    public func remove(_ descriptor: Int32) {
        _ = fl_epoll_control(poll.rawValue, EPOLL_CTL_DEL, descriptor, 0)
    }

    /// Makes the current or next ``wait(milliseconds:_:)`` return at once.
    public func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeUp.rawValue, &one, 8)
    }

    /// Waits up to `milliseconds` (−1: for ever) and calls `body` with each ready descriptor;
    /// returns whether ``wake()`` was called.
    @discardableResult
    public func wait(milliseconds: Int32, _ body: (Int32, Events) -> Void) throws(SystemCallError) -> Bool {
        let count = fl_epoll_wait(poll.rawValue, readyDescriptors, readyEvents, Int32(Self.capacity), milliseconds)
        if count < 0 {
            if errno == EINTR { return false }
            throw SystemCallError(call: "epoll_wait", errno: errno)
        }
        var woken = false
        for index in 0..<Int(count) {
            if readyDescriptors[index] == wakeUp.rawValue {
                var value: UInt64 = 0
                _ = Glibc.read(wakeUp.rawValue, &value, 8)
                woken = true
            } else {
                body(readyDescriptors[index], Events(rawValue: readyEvents[index]))
            }
        }
        return woken
    }
}
