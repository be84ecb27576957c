import CFastCGI
import POSIXSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A thread-per-connection FastCGI server on libfcgi.
///
/// Every thread blocks in `FCGX_Accept_r`; with nginx's `fastcgi_keep_conn on`, each connection
/// nginx keeps pins one thread, so `threadCount` must exceed the connections nginx keeps.
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

    /// One request thread, as ``stop(grace:)`` sees it.
    private final class RequestThread: Sendable {
        let thread: pthread_t
        /// Inside the handler: never interrupted, its request must finish.
        let handling = Atomic<Bool>(false)
        let ended = Atomic<Bool>(false)

        init(thread: pthread_t) {
            self.thread = thread
        }
    }

    private let listener: FileDescriptor
    private let threadCount: Int
    private let makeHandler: HandlerFactory
    private let stopMode: StopMode
    private let interrupter: ThreadInterrupter
    private let requestThreads = Mutex<[RequestThread]>([])
    private let inFlight = Atomic<Int>(0)
    private let served = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let allowedPeers: [AddressRange]?
    private let refused = Atomic<Int>(0)
    private let onRefusedPeer: (@Sendable (String) -> Void)?

    private static let initialise: Void = {
        // Signals are blocked by the caller before this; FCGX_Init's own handlers never run.
        _ = FCGX_Init()
    }()

    /// Creates a server on a listening socket it takes ownership of.
    ///
    /// - Parameters:
    ///   - allowedPeers: for a TCP socket, the only addresses whose connections are served; any
    ///     other peer's connection (or one whose address cannot be read) is closed unanswered and
    ///     reported to `onRefusedPeer`. `nil`: no check, for a unix socket, whose file mode says
    ///     who may connect.
    public init(
        listener: FileDescriptor, threadCount: Int, stopMode: StopMode = .shutDownListener,
        allowedPeers: [AddressRange]? = nil, onRefusedPeer: (@Sendable (String) -> Void)? = nil,
        makeHandler: @escaping HandlerFactory
    ) throws(SystemCallError) {
        self.listener = listener
        self.allowedPeers = allowedPeers
        self.onRefusedPeer = onRefusedPeer
        self.threadCount = threadCount
        self.stopMode = stopMode
        self.makeHandler = makeHandler
        interrupter = try ThreadInterrupter()
    }

    deinit {
        // Every request thread holds the server, so none is left using the socket.
        listener.close()
    }

    /// Requests being handled right now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Request threads that have not ended (all of them until ``stop(grace:)``).
    public var threadsRunning: Int { running.load(ordering: .acquiring) }

    /// Connections closed unanswered because their peer is not an allowed address.
    public var peersRefused: Int { refused.load(ordering: .relaxed) }

    /// Requests answered since the server started.
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    /// Starts the request threads and returns.
    public func start() throws(SystemCallError) {
        _ = Self.initialise
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
        var flags: Int32 = 0
        if (try? interrupter.allowInCallingThread()) != nil { flags = FCGI_FAIL_ACCEPT_ON_INTR }
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        guard FCGX_InitRequest(request, listener.rawValue, flags) == 0 else { return }
        while !stopping.load(ordering: .acquiring) {
            let accepted = FCGX_Accept_r(request)
            if accepted == -EINTR { continue }
            guard accepted >= 0 else { break }
            if !peerIsAllowed(request) {
                // Closed before anything is answered; libfcgi's writes at finish fail on the
                // shut-down socket, and the connection is not kept.
                request.pointee.keepConnection = 0
                shutdown(request.pointee.ipcFd, Int32(SHUT_RDWR))
                FCGX_Finish_r(request)
                continue
            }
            me.handling.store(true, ordering: .releasing)
            inFlight.add(1, ordering: .relaxed)
            handler(FastCGIRequest(raw: request))
            FCGX_Finish_r(request)
            inFlight.subtract(1, ordering: .relaxed)
            served.add(1, ordering: .relaxed)
            me.handling.store(false, ordering: .releasing)
        }
        FCGX_Free(request, 1)
    }

    private func peerIsAllowed(_ request: UnsafeMutablePointer<FCGX_Request>) -> Bool {
        guard let allowedPeers else { return true }
        let peer = AddressRange.peerAddress(ofSocket: request.pointee.ipcFd)
        if let peer, allowedPeers.containsAddress(peer) { return true }
        refused.add(1, ordering: .relaxed)
        onRefusedPeer?(peer.map { AddressRange(address: $0).description } ?? "an unknown address")
        return false
    }

    /// Wakes every thread that is not handling a request (waiting in accept, or parked on a
    /// kept-alive connection), so that it sees `stopping` and ends.
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
    /// the process exiting under it.
    public func stop(grace: Double) -> Bool {
        stopping.store(true, ordering: .releasing)
        if stopMode == .shutDownListener { listener.shutdown() }
        let deadline = MonotonicClock.now + grace
        interruptWaitingThreads()
        while running.load(ordering: .acquiring) > 0 {
            if MonotonicClock.now >= deadline { return inFlight.load(ordering: .relaxed) == 0 }
            usleep(2_000)
            interruptWaitingThreads()
        }
        return true
    }
}
