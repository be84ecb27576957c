// Longer than most files: one class whose accept loop, request threads, keep-alive parking and
// descriptor hand-offs share private state; split, that state would have to be widened.

import CFastCGI
import POSIXSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A FastCGI server on libfcgi whose request threads only ever serve requests that are all
/// there.
///
/// Request threads accept connections themselves, and check the peer before reading anything.
/// A connection whose request is not yet buffered in full goes to the ``ConnectionGate``, which
/// waits on it (at most a second) without a thread; libfcgi is given a connection only with one
/// whole request in its socket, so its blocking reads never wait on a peer. A connection nginx
/// keeps (`fastcgi_keep_conn on`) parks its thread between requests while there are
/// ``PoolSizing``'s pinned threads to spare; past them it waits in the gate too. Connections are
/// closed without libfcgi's lingering close, which reads on until the peer stops sending.
public final class FastCGIServer: Sendable {
    /// Makes the request handler of one thread; called once on that thread, so a handler may own
    /// per-thread scratch (a bcrypt hasher) without locks.
    public typealias HandlerFactory = @Sendable () -> (borrowing FastCGIRequest) -> Void

    /// How ``stop(grace:)`` keeps new connections from being accepted.
    public enum StopMode: Sendable {
        /// shutdown(2) the listening socket: connects are refused at once and go to another
        /// worker. For a socket this process made and nothing else uses.
        case shutDownListener
        /// Interrupt the threads waiting in accept and leave the socket intact, so connections
        /// wait in its queue for the next process. For a socket inherited from systemd.
        case interruptAcceptingThreads
    }

    /// What a request thread is doing, for ``stop(grace:)`` and for the gate's wake-ups.
    private enum Activity: UInt8 {
        case busy, accepting, woken, parked
    }

    /// One request thread, as ``stop(grace:)`` sees it.
    private final class RequestThread: Sendable {
        let thread: pthread_t
        /// Inside the handler: never interrupted, its request must finish.
        let handling = Atomic<Bool>(false)
        let activity = Atomic<UInt8>(Activity.busy.rawValue)
        let ended = Atomic<Bool>(false)

        init(thread: pthread_t) {
            self.thread = thread
        }
    }

    private let listener: FileDescriptor
    private let threadCount: Int
    private let parkLimit: Int
    private let makeHandler: HandlerFactory
    private let stopMode: StopMode
    private let interrupter: ThreadInterrupter
    private let gate: ConnectionGate
    private let isTCP: Bool
    private let requestThreads = Mutex<[RequestThread]>([])
    private let wakeCursor = Atomic<Int>(0)
    private let inFlight = Atomic<Int>(0)
    private let served = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let parked = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let allowedPeers: [AddressRange]?
    private let refused = Atomic<Int>(0)
    private let acceptFailures = Atomic<Int>(0)
    private let onRefusedPeer: (@Sendable (String) -> Void)?

    /// How long a request thread waits for the rest of a request that has begun, or for one
    /// just after accept (nginx writes it right after connecting), before the gate takes over.
    private static let shortWaitMilliseconds: Int32 = 2

    /// The longest a write of an answer may block on a peer that does not read.
    private static let sendTimeoutSeconds = 1.0

    private static let initialise: Void = {
        // Signals are blocked by the caller before this; FCGX_Init's own handlers never run.
        _ = FCGX_Init()
    }()

    /// Creates a server on a listening socket it takes ownership of.
    ///
    /// - Parameters:
    ///   - parkedThreads: threads that may wait on a kept connection between its requests; past
    ///     them, idle kept connections wait in the gate. `nil`: a quarter of the threads.
    ///   - gateLimits: how long a connection may take to send its request, and how many wait.
    ///   - allowedPeers: for a TCP socket, the only addresses whose connections are served; any
    ///     other peer's connection (or one whose address cannot be read) is closed unread and
    ///     reported to `onRefusedPeer`. `nil`: no check, for a unix socket, whose file mode says
    ///     who may connect.
    ///   - onInvalidRequest: called with the reason when a connection is closed for sending
    ///     something that is not a FastCGI responder request.
    public init(
        listener: FileDescriptor, threadCount: Int, parkedThreads: Int? = nil, stopMode: StopMode = .shutDownListener,
        gateLimits: ConnectionGateLimits = ConnectionGateLimits(),
        allowedPeers: [AddressRange]? = nil, onRefusedPeer: (@Sendable (String) -> Void)? = nil,
        onInvalidRequest: (@Sendable (String) -> Void)? = nil,
        makeHandler: @escaping HandlerFactory
    ) throws(SystemCallError) {
        self.listener = listener
        self.allowedPeers = allowedPeers
        self.onRefusedPeer = onRefusedPeer
        self.threadCount = threadCount
        self.parkLimit = max(0, min(threadCount - 1, parkedThreads ?? threadCount / 4))
        self.stopMode = stopMode
        self.makeHandler = makeHandler
        isTCP = AddressRange.localAddress(ofSocket: listener.rawValue) != nil
        interrupter = try ThreadInterrupter()
        var limits = gateLimits
        limits.capacity = max(16, limits.capacity)
        gate = try ConnectionGate(limits: limits, onInvalid: { onInvalidRequest?($0) })
    }

    deinit {
        // Every request thread holds the server, so none is left using the socket.
        listener.close()
    }

    /// Requests being handled right now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Request threads that have not ended (all of them until ``stop(grace:)``).
    public var threadsRunning: Int { running.load(ordering: .acquiring) }

    /// Threads waiting on a kept connection for its next request.
    public var threadsParked: Int { parked.load(ordering: .relaxed) }

    /// Connections closed unread because their peer is not an allowed address.
    public var peersRefused: Int { refused.load(ordering: .relaxed) }

    /// Requests answered since the server started.
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    /// Connections waiting in the gate for a whole request, or between requests.
    public var connectionsWaiting: Int { gate.connectionsHeld }

    /// Connections closed because their request did not come in time, or they idled too long.
    public var connectionsTimedOut: Int { gate.connectionsTimedOut }

    /// Connections closed for sending something that is not a request this server serves.
    public var connectionsInvalid: Int { gate.connectionsInvalid }

    /// Connections closed to make room in the gate for newer ones.
    public var connectionsEvicted: Int { gate.connectionsEvicted }

    /// accept(2) failures for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
    /// each followed by a short pause and another try.
    public var acceptsFailed: Int { acceptFailures.load(ordering: .relaxed) }

    /// Starts the gate and the request threads, and returns.
    public func start() throws(SystemCallError) {
        _ = Self.initialise
        try gate.start { [self] in wakeAcceptingThread() }
        for index in 0..<threadCount {
            running.add(1, ordering: .relaxed)
            do {
                try PlatformThread.startDetached(name: "fcgi-\(index)", stackSize: 1 << 20) { [self] in
                    serve()
                    running.subtract(1, ordering: .relaxed)
                }
            } catch {
                running.subtract(1, ordering: .relaxed)
                throw error
            }
        }
    }

    private func serve() {
        let handler = makeHandler()
        let me = RequestThread(thread: pthread_self())
        requestThreads.withLock { $0.append(me) }
        defer { me.ended.store(true, ordering: .releasing) }
        // Without the signal, stop() could not wake this thread from accept or a parked poll.
        guard (try? interrupter.allowInCallingThread()) != nil else { return }
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        // No listening socket: libfcgi never accepts. Should it ever turn a connection down, its
        // own accept fails at once (EBADF) instead of taking one past the peer check.
        guard FCGX_InitRequest(request, -1, 0) == 0 else { return }
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: FastCGIRequestScan.maximumRequestBytes, alignment: 16)
        defer { scratch.deallocate() }
        while !stopping.load(ordering: .acquiring) {
            serve(
                startingWith: nextConnection(me, scratch: scratch), request: request, handler: handler, me: me,
                scratch: scratch)
        }
        // Requests that were whole in the gate as the stop began are answered, not closed unread.
        while let ready = gate.takeReady() {
            serve(startingWith: ready, request: request, handler: handler, me: me, scratch: scratch)
        }
        FCGX_Free(request, 0)
    }

    /// Serves `connection`'s request, then each next one nginx sends on it while it is kept.
    private func serve(
        startingWith connection: Int32?, request: UnsafeMutablePointer<FCGX_Request>,
        handler: (borrowing FastCGIRequest) -> Void, me: RequestThread, scratch: UnsafeMutableRawBufferPointer
    ) {
        var next = connection
        while let connection = next {
            guard let kept = serveRequest(on: connection, request: request, handler: handler, me: me) else { return }
            next = awaitNextRequest(on: kept, me: me, scratch: scratch)
        }
    }

    /// A connection with a whole request buffered: one the gate has ready, or one accepted now
    /// whose request is all there; `nil` when there is none this time round (the accepted one,
    /// if any, went to the gate or was closed).
    private func nextConnection(_ me: RequestThread, scratch: UnsafeMutableRawBufferPointer) -> Int32? {
        if let ready = gate.takeReady() { return ready }
        me.activity.store(Activity.accepting.rawValue, ordering: .releasing)
        // Looked at again after saying so: the gate wakes only threads it sees accepting.
        if let ready = gate.takeReady() {
            me.activity.store(Activity.busy.rawValue, ordering: .releasing)
            return ready
        }
        let (descriptor, code) = listener.acceptConnection()
        me.activity.store(Activity.busy.rawValue, ordering: .releasing)
        guard descriptor >= 0 else {
            switch code {
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory: the connection stays in the backlog; try again
                // soon, as the gate's deadlines free descriptors.
                acceptFailures.add(1, ordering: .relaxed)
                usleep(10_000)
            case EINTR, ECONNABORTED, EPROTO, EPERM: break
            default:
                // The listener was shut down (stop) or is broken; the loop looks at stopping.
                if !stopping.load(ordering: .acquiring) { usleep(10_000) }
            }
            return nil
        }
        guard peerIsAllowed(descriptor) else {
            close(descriptor)
            return nil
        }
        configure(descriptor)
        return awaitRequest(on: descriptor, justAccepted: true, scratch: scratch)
    }

    /// Bounds the time an answer's writes may block, and (TCP) sends them without delay.
    private func configure(_ descriptor: Int32) {
        var timeout = timeval(tv_sec: Int(Self.sendTimeoutSeconds), tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Reads never wait (the request is buffered); this bounds them should that ever be wrong.
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if isTCP {
            var on: Int32 = 1
            _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// `descriptor` if its request is all there (after a short wait for the rest), else `nil`:
    /// closed, or handed to the gate.
    private func awaitRequest(
        on descriptor: Int32, justAccepted: Bool, scratch: UnsafeMutableRawBufferPointer
    ) -> Int32? {
        var peek = ConnectionGate.peek(descriptor, into: scratch)
        if peek == .nothing || peek == .partial {
            var waiting = pollfd(fd: descriptor, events: PollEvents.inputOrHangUp, revents: 0)
            if poll(&waiting, 1, Self.shortWaitMilliseconds) > 0 {
                peek = ConnectionGate.peek(descriptor, into: scratch)
            }
        }
        switch peek {
        case .complete:
            return descriptor
        case .nothing where !justAccepted:
            // Stopping, an idle kept connection is closed: nobody would serve its next request.
            if stopping.load(ordering: .acquiring) { close(descriptor) } else { gate.hold(descriptor, waiting: .idle) }
        case .nothing, .partial:
            gate.hold(descriptor, waiting: .request)
        case .closed:
            close(descriptor)
        case .invalid(let reason):
            gate.recordInvalid(reason)
            close(descriptor)
        }
        return nil
    }

    /// After an answer on a kept connection: the connection again once its next request is all
    /// there, waiting for it on this thread while parked threads are to spare; else `nil`, and
    /// the connection is in the gate or closed.
    private func awaitNextRequest(on descriptor: Int32, me: RequestThread, scratch: UnsafeMutableRawBufferPointer)
        -> Int32?
    {
        let peek = ConnectionGate.peek(descriptor, into: scratch)
        if peek == .complete { return descriptor }
        guard peek == .nothing, !stopping.load(ordering: .acquiring) else {
            return awaitRequest(on: descriptor, justAccepted: false, scratch: scratch)
        }
        guard parked.add(1, ordering: .relaxed).newValue <= parkLimit else {
            parked.subtract(1, ordering: .relaxed)
            gate.hold(descriptor, waiting: .idle)
            return nil
        }
        defer { parked.subtract(1, ordering: .relaxed) }
        me.activity.store(Activity.parked.rawValue, ordering: .releasing)
        defer { me.activity.store(Activity.busy.rawValue, ordering: .releasing) }
        let deadline = MonotonicClock.now + gate.idleSeconds
        var waiting = pollfd(fd: descriptor, events: PollEvents.inputOrHangUp, revents: 0)
        while true {
            let left = deadline - MonotonicClock.now
            guard left > 0, !stopping.load(ordering: .acquiring) else {
                // nginx may have sent its next request as the stop began (a woken thread can be
                // late): that one is answered, not dropped with the connection.
                if ConnectionGate.peek(descriptor, into: scratch) == .complete { return descriptor }
                close(descriptor)
                return nil
            }
            let result = poll(&waiting, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if result > 0 { break }
            // EINTR: stop() woke it, and the loop looks at stopping; 0: look at the deadline.
        }
        return awaitRequest(on: descriptor, justAccepted: false, scratch: scratch)
    }

    /// Serves the whole request buffered on `descriptor` and returns the connection if nginx
    /// keeps it, else `nil` (closed).
    private func serveRequest(
        on descriptor: Int32, request: UnsafeMutablePointer<FCGX_Request>,
        handler: (borrowing FastCGIRequest) -> Void, me: RequestThread
    ) -> Int32? {
        request.pointee.ipcFd = descriptor
        // Kept, so that the finish FCGX_Accept_r begins with does not close it; detached, so that
        // any close of libfcgi's is a plain close(2), not its read-until-the-peer-stops linger.
        request.pointee.keepConnection = 1
        request.pointee.detached = 1
        guard FCGX_Accept_r(request) >= 0 else {
            // libfcgi turned the request down and closed the connection.
            request.pointee.ipcFd = -1
            return nil
        }
        me.handling.store(true, ordering: .releasing)
        inFlight.add(1, ordering: .relaxed)
        handler(FastCGIRequest(raw: request))
        request.pointee.detached = 1
        FCGX_Finish_r(request)
        inFlight.subtract(1, ordering: .relaxed)
        served.add(1, ordering: .relaxed)
        me.handling.store(false, ordering: .releasing)
        // libfcgi closed it (nginx does not keep it, or a write failed), or it is ours again.
        let kept = request.pointee.ipcFd
        request.pointee.ipcFd = -1
        return kept >= 0 ? kept : nil
    }

    private func peerIsAllowed(_ descriptor: Int32) -> Bool {
        guard let allowedPeers else { return true }
        let peer = AddressRange.peerAddress(ofSocket: descriptor)
        if let peer, allowedPeers.containsAddress(peer) { return true }
        refused.add(1, ordering: .relaxed)
        onRefusedPeer?(peer.map { AddressRange(address: $0).description } ?? "an unknown address")
        return false
    }

    /// Wakes a thread waiting in accept, for a connection the gate has ready.
    private func wakeAcceptingThread() {
        let threads = requestThreads.withLock { $0 }
        guard !threads.isEmpty else { return }
        let start = wakeCursor.add(1, ordering: .relaxed).newValue
        for offset in 0..<threads.count {
            let thread = threads[(start + offset) % threads.count]
            if thread.activity.compareExchange(
                expected: Activity.accepting.rawValue, desired: Activity.woken.rawValue,
                ordering: .acquiringAndReleasing
            ).exchanged {
                interrupter.interrupt(thread.thread)
                return
            }
        }
    }

    /// Wakes every thread that is not handling a request (waiting in accept, or parked on a
    /// kept connection), so that it sees `stopping` and ends.
    private func interruptWaitingThreads() {
        for thread in requestThreads.withLock({ $0 })
        where !thread.ended.load(ordering: .acquiring) && !thread.handling.load(ordering: .acquiring) {
            interrupter.interrupt(thread.thread)
        }
    }

    /// Stops accepting, lets requests in flight finish (at most `grace` seconds), and returns
    /// whether all of them did.
    ///
    /// Every thread waiting for a request is woken — blocked in accept, or parked on a connection
    /// nginx keeps — by shutting the listening socket down (a socket of our own) and by
    /// interrupting those threads, again each round, since one can check `stopping` just before a
    /// signal and enter accept just after it. It returns only once every thread has ended: a
    /// request read from a kept connection just as the stop began is answered, not cut off by
    /// the process exiting under it. Idle kept connections are closed as the stop begins, requests
    /// already whole in the gate are answered, and the connections left in the gate, which have
    /// no whole request, are closed.
    public func stop(grace: Double) -> Bool {
        stopping.store(true, ordering: .releasing)
        if stopMode == .shutDownListener { listener.shutdown() }
        gate.closeIdle()
        let deadline = MonotonicClock.now + grace
        interruptWaitingThreads()
        while running.load(ordering: .acquiring) > 0 {
            if MonotonicClock.now >= deadline {
                gate.stop()
                return inFlight.load(ordering: .relaxed) == 0
            }
            usleep(2_000)
            interruptWaitingThreads()
        }
        gate.stop()
        return true
    }
}
