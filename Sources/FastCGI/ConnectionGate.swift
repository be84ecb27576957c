import POSIXSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Holds every connection no request thread is serving: new ones, and ones nginx keeps
/// between requests. It hands one to a request thread only once a whole request is in the
/// socket's buffer (``FastCGIRequestScan``).
///
/// One thread and one epoll set watch them all, so a peer that connects and sends nothing, or
/// sends a byte a second, costs a descriptor and no thread. The peer's address is checked at
/// accept, before anything is read. A new connection must deliver its request within
/// ``Limits/requestSeconds`` of its accept, and a kept one within as long of its request's
/// first byte; a kept connection may idle ``Limits/idleSeconds``. At ``Limits/connections``
/// the oldest connection without a request in hand makes room for a new one.
final class ConnectionGate: @unchecked Sendable {
    /// How long and how many.
    struct Limits: Sendable {
        /// From accept (or a kept request's first byte) to the whole request in the buffer.
        var requestSeconds = 1.0
        /// How long a kept connection may wait for its next request: longer than nginx's own
        /// upstream keepalive timeout (60 s), so that nginx closes first.
        var idleSeconds = 75.0
        /// Connections held at once. libfcgi's close uses FD_SET, which aborts the process on a
        /// descriptor of FD_SETSIZE (1024) or more; no such descriptor is ever handed on.
        var connections = 768
        /// The largest request accepted: parameters and a body, which nginx bounds at 16 KiB.
        var requestBytes = 65_536
    }

    /// Why a connection was closed unserved.
    enum Drop {
        case refusedPeer, timedOut, invalid, tooLarge, evicted, descriptorLimit, closedByPeer
    }

    private struct Connection {
        /// When it was accepted, or came back after a request.
        var since: Double
        /// When the first byte of its next request arrived.
        var firstByteAt: Double?
        /// Whether a request was served on it (nginx keeps it).
        var kept: Bool

        func deadline(_ limits: Limits) -> Double {
            if let firstByteAt { return firstByteAt + limits.requestSeconds }
            return since + (kept ? limits.idleSeconds : limits.requestSeconds)
        }
    }

    private let listener: FileDescriptor
    private let limits: Limits
    private let allowedPeers: [AddressRange]?
    private let onRefusedPeer: (@Sendable (String) -> Void)?
    private let poll: EventPoll
    private let readySignal: CountingSemaphore
    /// Connections with a whole request in their buffer (oldest first), kept connections that
    /// request threads handed back for the gate to watch again, and whether the gate is stopping.
    private let ready = Mutex<(connections: [Int32], returned: [Int32], stopping: Bool)>(([], [], false))
    private let ended = Atomic<Bool>(false)
    private let dropped = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    /// Only the gate's thread touches these.
    private var connections: [Int32: Connection] = [:]
    private var acceptPausedUntil = 0.0
    private var listening = true
    private let peekBuffer: UnsafeMutableRawBufferPointer

    init(
        listener: FileDescriptor, limits: Limits, allowedPeers: [AddressRange]?,
        onRefusedPeer: (@Sendable (String) -> Void)?
    ) throws(SystemCallError) {
        self.listener = listener
        self.limits = limits
        self.allowedPeers = allowedPeers
        self.onRefusedPeer = onRefusedPeer
        poll = try EventPoll()
        do {
            readySignal = try CountingSemaphore()
            // Accepts until the queue is empty; with another process on the same socket, a
            // connection seen as ready may be gone by the time this one accepts.
            let flags = try systemCall("fcntl(F_GETFL)") { fcntl(listener.rawValue, F_GETFL) }
            try systemCall("fcntl(F_SETFL)") { fcntl(listener.rawValue, F_SETFL, flags | O_NONBLOCK) }
            try poll.add(listener.rawValue, events: .readable)
        } catch {
            poll.close()
            throw error
        }
        peekBuffer = .allocate(byteCount: limits.requestBytes + 1, alignment: 8)
    }

    deinit {
        peekBuffer.deallocate()
    }

    /// Connections closed unserved: silent or slow past their deadline, not a request, too
    /// large, pushed out at the limit, or from a peer not allowed.
    var connectionsDropped: Int { dropped.load(ordering: .relaxed) }

    /// Connections closed at accept because their peer is not an allowed address.
    var peersRefused: Int { refused.load(ordering: .relaxed) }

    /// Whether the gate's thread has ended.
    var hasEnded: Bool { ended.load(ordering: .acquiring) }

    // MARK: - Request threads

    /// Blocks until a connection holds a whole request and returns it, now the caller's; `nil`
    /// once the gate is stopping and every ready connection has been taken.
    func nextReadyConnection() -> Int32? {
        while true {
            readySignal.wait()
            let next = ready.withLock { state -> (Int32?, Bool) in
                if !state.connections.isEmpty { return (state.connections.removeFirst(), false) }
                return (nil, state.stopping)
            }
            if let connection = next.0 { return connection }
            if next.1 {
                readySignal.signal()  // the next waiter ends too
                return nil
            }
        }
    }

    /// Takes back a connection whose request was answered and that its peer keeps.
    ///
    /// It is listed for the gate, then watched again from this thread: no wake-up of the gate's
    /// thread per request. Its next request's event finds it listed.
    func keep(_ connection: Int32) {
        let listed = ready.withLock { state in
            guard !state.stopping else { return false }
            state.returned.append(connection)
            return true
        }
        guard listed else { return closeConnection(connection) }
        guard (try? poll.rearm(connection, events: Self.watched)) == nil else { return }
        // Not watched (the kernel is out of memory): unlisted and closed, unless the gate has
        // taken it already, and then its idle deadline closes it.
        let unlisted = ready.withLock { state in
            guard let index = state.returned.firstIndex(of: connection) else { return false }
            state.returned.remove(at: index)
            return true
        }
        if unlisted { closeConnection(connection) }
    }

    private func closeConnection(_ connection: Int32) {
        _ = Glibc.close(connection)
    }

    /// A connection's events: one at a time, each time more bytes come.
    static let watched: EventPoll.Events = [.readable, .peerClosed, .edgeTriggered, .oneShot]

    // MARK: - The gate's thread

    /// Starts the gate's thread.
    func start() throws(SystemCallError) {
        try PlatformThread.startDetached(name: "fcgi-gate", stackSize: 1 << 20) { [self] in
            run()
            ended.store(true, ordering: .releasing)
        }
    }

    /// Stops accepting and watching: held connections are closed, ready ones are still served.
    func stop() {
        ready.withLock { $0.stopping = true }
        readySignal.signal()
        poll.wake()
    }

    private func run() {
        defer { closeAll() }
        var nextSweep = 0.0
        while !ready.withLock({ $0.stopping }) {
            let untilSweep = max(0, min(100, Int32(((nextSweep - MonotonicClock.now) * 1000).rounded(.up))))
            do {
                try poll.wait(milliseconds: untilSweep) { descriptor, events in
                    if descriptor == listener.rawValue {
                        acceptAll()
                    } else {
                        examine(descriptor, events: events)
                    }
                }
            } catch {
                usleep(10_000)
            }
            takeBackReturned()
            // Every 50 ms, not after every event: the walk is over every connection held. At
            // most a batch is closed at a time, so that connections opened together (an attack
            // renewing hundreds at once) do not stall the requests of the others as they expire.
            let now = MonotonicClock.now
            if now >= nextSweep { nextSweep = now + (sweep(now: now) ? 0.002 : 0.05) }
        }
    }

    private func acceptAll() {
        let now = MonotonicClock.now
        guard listening, now >= acceptPausedUntil else { return }
        for _ in 0..<Self.batch {
            switch listener.acceptConnection() {
            case .success(let descriptor):
                admit(descriptor, now: now)
            case .failure(let error):
                switch error.errno {
                case EAGAIN, EINTR, EINVAL: return  // none waiting, or the listener was shut down
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: the connection waits in the backlog; the
                    // listener is looked at again in a moment, not given up on.
                    pauseAccepting(until: now + 0.05)
                    return
                default: continue  // ECONNABORTED and the like: that connection is gone
                }
            }
        }
    }

    private func pauseAccepting(until time: Double) {
        acceptPausedUntil = time
        poll.remove(listener.rawValue)
        listening = false
    }

    private func admit(_ descriptor: Int32, now: Double) {
        guard descriptor < FD_SETSIZE else { return drop(descriptor, .descriptorLimit) }
        if let allowedPeers {
            let peer = AddressRange.peerAddress(ofSocket: descriptor)
            guard let peer, allowedPeers.containsAddress(peer) else {
                refused.add(1, ordering: .relaxed)
                onRefusedPeer?(peer.map { AddressRange(address: $0).description } ?? "an unknown address")
                return drop(descriptor, .refusedPeer)
            }
        }
        if connections.count >= limits.connections { evictOne() }
        // A safety net under the scan: no read or write of libfcgi's blocks for longer.
        var time = timeval(tv_sec: Int(limits.requestSeconds), tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            setsockopt(descriptor, SOL_SOCKET, option, &time, socklen_t(MemoryLayout<timeval>.size))
        }
        watch(descriptor, Connection(since: now, firstByteAt: nil, kept: false))
    }

    private func watch(_ descriptor: Int32, _ connection: Connection) {
        do {
            // Data already waiting is reported at once.
            try poll.add(descriptor, events: Self.watched)
        } catch {
            return drop(descriptor, .descriptorLimit)
        }
        connections[descriptor] = connection
    }

    private func examine(_ descriptor: Int32, events: EventPoll.Events) {
        if connections[descriptor] == nil { takeBackReturned() }
        guard var connection = connections[descriptor] else { return }
        let count = recv(descriptor, peekBuffer.baseAddress, peekBuffer.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        if count < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            return forget(descriptor, .closedByPeer)
        }
        if count == 0 { return forget(descriptor, connection.firstByteAt == nil ? .closedByPeer : .invalid) }
        guard count <= limits.requestBytes else { return forget(descriptor, .tooLarge) }
        if connection.firstByteAt == nil {
            connection.firstByteAt = MonotonicClock.now
            connections[descriptor] = connection
        }
        switch FastCGIRequestScan.scan(UnsafeRawBufferPointer(rebasing: peekBuffer[0..<count])) {
        case .incomplete:
            if events.contains(.peerClosed) { return forget(descriptor, .invalid) }
            if (try? poll.rearm(descriptor, events: Self.watched)) == nil { forget(descriptor, .invalid) }
        case .invalid:
            forget(descriptor, .invalid)
        case .complete:
            // Its one shot is spent: it stays in the set, unwatched, until ``keep(_:)``.
            connections[descriptor] = nil
            ready.withLock { $0.connections.append(descriptor) }
            readySignal.signal()
        }
    }

    private func takeBackReturned() {
        let now = MonotonicClock.now
        for descriptor in takeReturned() {
            if connections.count >= limits.connections { evictOne() }
            connections[descriptor] = Connection(since: now, firstByteAt: nil, kept: true)
        }
    }

    private func takeReturned() -> [Int32] {
        ready.withLock { state in
            defer { state.returned.removeAll() }
            return state.returned
        }
    }

    /// Closes connections past their deadline, a batch at most; returns whether more may be left.
    private func sweep(now: Double) -> Bool {
        if !listening, now >= acceptPausedUntil {
            if (try? poll.add(listener.rawValue, events: .readable)) != nil { listening = true }
        }
        var expired: [Int32] = []
        for (descriptor, connection) in connections where now >= connection.deadline(limits) {
            expired.append(descriptor)
            if expired.count == Self.batch { break }
        }
        for descriptor in expired { forget(descriptor, .timedOut) }
        return expired.count == Self.batch
    }

    /// Connections accepted, or closed past their deadline, before the gate looks at others' events again.
    static let batch = 32

    /// Makes room: the oldest connection still waiting for its first request, else the kept
    /// connection idle longest.
    private func evictOne() {
        var oldest: (descriptor: Int32, since: Double, kept: Bool)?
        for (descriptor, connection) in connections {
            guard let current = oldest else {
                oldest = (descriptor, connection.since, connection.kept)
                continue
            }
            let better =
                current.kept && !connection.kept
                || (current.kept == connection.kept && connection.since < current.since)
            if better { oldest = (descriptor, connection.since, connection.kept) }
        }
        if let oldest { forget(oldest.descriptor, .evicted) }
    }

    private func forget(_ descriptor: Int32, _ reason: Drop) {
        connections[descriptor] = nil
        drop(descriptor, reason)  // closing it takes it out of the epoll set
    }

    private func drop(_ descriptor: Int32, _ reason: Drop) {
        // Counted first: whoever sees the close sees the count.
        if reason != .closedByPeer { dropped.add(1, ordering: .relaxed) }
        _ = Glibc.close(descriptor)
    }

    private func closeAll() {
        for descriptor in connections.keys { forget(descriptor, .closedByPeer) }
        for descriptor in takeReturned() { _ = Glibc.close(descriptor) }
        poll.remove(listener.rawValue)
        poll.close()
    }
}
