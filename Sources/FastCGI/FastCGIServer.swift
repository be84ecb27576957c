import CFastCGI
import POSIXSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A FastCGI server on libfcgi: a pool of request threads fed by one ``ConnectionGate``.
///
/// libfcgi reads a request with blocking reads and no timeout, and closes a connection by
/// reading from its peer for up to two seconds at a time; left to accept on its own, every
/// silent or dribbling connection would pin a request thread. So the gate accepts, checks the
/// peer, and hands a connection to a thread only once its whole request is buffered, and a
/// thread ends each request without letting libfcgi close the connection: a connection nginx
/// keeps goes back to the gate, any other is closed here. A thread is never parked on an idle
/// connection, so `threadCount` is how many requests are handled at once.
public final class FastCGIServer: Sendable {
    /// Makes the request handler of one thread; called once on that thread, so a handler may own
    /// per-thread scratch (a bcrypt hasher) without locks.
    public typealias HandlerFactory = @Sendable () -> (borrowing FastCGIRequest) -> Void

    /// What ``stop(grace:)`` does to the listening socket.
    public enum StopMode: Sendable {
        /// shutdown(2) it: connects are refused at once and go to another worker. For a socket
        /// this process made and nothing else uses.
        case shutDownListener
        /// Stop accepting and leave the socket intact, so connections wait in its queue for the
        /// next process. For a socket inherited from systemd.
        case leaveListenerIntact
    }

    private let listener: FileDescriptor
    private let threadCount: Int
    private let makeHandler: HandlerFactory
    private let stopMode: StopMode
    private let gate: ConnectionGate
    private let inFlight = Atomic<Int>(0)
    private let served = Atomic<Int>(0)
    private let running = Atomic<Int>(0)

    private static let initialise: Void = {
        // Signals are blocked by the caller before this; FCGX_Init's own handlers never run.
        _ = FCGX_Init()
    }()

    /// Creates a server on a listening socket it takes ownership of.
    ///
    /// - Parameters:
    ///   - allowedPeers: for a TCP socket, the only addresses whose connections are served; any
    ///     other peer's connection (or one whose address cannot be read) is closed at accept,
    ///     before anything is read, and reported to `onRefusedPeer`. `nil`: no check, for a unix
    ///     socket, whose file mode says who may connect.
    public init(
        listener: FileDescriptor, threadCount: Int, stopMode: StopMode = .shutDownListener,
        allowedPeers: [AddressRange]? = nil, onRefusedPeer: (@Sendable (String) -> Void)? = nil,
        makeHandler: @escaping HandlerFactory
    ) throws(SystemCallError) {
        self.listener = listener
        self.threadCount = threadCount
        self.stopMode = stopMode
        self.makeHandler = makeHandler
        gate = try ConnectionGate(
            listener: listener, limits: ConnectionGate.Limits(), allowedPeers: allowedPeers,
            onRefusedPeer: onRefusedPeer)
    }

    deinit {
        // Every request thread and the gate's hold the server, so none is left using the socket.
        listener.close()
    }

    /// Requests being handled right now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Request threads that have not ended (all of them until ``stop(grace:)``).
    public var threadsRunning: Int { running.load(ordering: .acquiring) }

    /// Connections closed at accept because their peer is not an allowed address.
    public var peersRefused: Int { gate.peersRefused }

    /// Connections closed unserved: silent or slow past the deadline, not a FastCGI request,
    /// too large, pushed out at the connection limit, or from a peer not allowed.
    public var connectionsDropped: Int { gate.connectionsDropped }

    /// Requests answered since the server started.
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    /// Starts the gate's thread and the request threads, and returns.
    public func start() throws(SystemCallError) {
        _ = Self.initialise
        try gate.start()
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
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        // No listening socket of libfcgi's own: every connection comes from the gate, and one
        // that libfcgi gives up on ends its accept call instead of starting an accept of its own.
        guard FCGX_InitRequest(request, -1, 0) == 0 else { return }
        while let connection = gate.nextReadyConnection() {
            request.pointee.ipcFd = connection
            // So that the accept's opening finish leaves the connection open.
            request.pointee.keepConnection = 1
            guard FCGX_Accept_r(request) >= 0 else {
                // libfcgi refused what the scan let through, and closed the connection.
                request.pointee.ipcFd = -1
                continue
            }
            inFlight.add(1, ordering: .relaxed)
            handler(FastCGIRequest(raw: request))
            served.add(1, ordering: .relaxed)  // before the answer's last bytes: whoever sees them sees the count
            let kept = finish(request)
            inFlight.subtract(1, ordering: .relaxed)
            if let kept { gate.keep(kept) }
        }
        FCGX_Free(request, 1)
    }

    /// Ends a request without letting libfcgi close its connection: sends the rest of the
    /// answer, and returns the connection if the peer keeps it and nothing failed; otherwise
    /// closes it (a plain close) and returns `nil`.
    private func finish(_ request: UnsafeMutablePointer<FCGX_Request>) -> Int32? {
        let input = request.pointee.in
        // The body's unread rest is already buffered: read it, so a kept connection stays in step.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { chunk in
            while FCGX_GetStr(chunk.baseAddress, Int32(chunk.count), input) > 0 {}
        }
        let sent = FCGX_FClose(request.pointee.err) == 0 && FCGX_FClose(request.pointee.out) == 0
        let keep = sent && FCGX_GetError(input) == 0 && request.pointee.keepConnection != 0
        FCGX_ClearError(input)
        FCGX_ClearError(request.pointee.out)
        FCGX_ClearError(request.pointee.err)
        request.pointee.keepConnection = 1
        FCGX_Finish_r(request)  // frees the streams; with no error left and keep set, closes nothing
        let connection = request.pointee.ipcFd
        request.pointee.ipcFd = -1
        guard connection >= 0 else { return nil }
        if keep { return connection }
        _ = Glibc.close(connection)
        return nil
    }

    /// Stops accepting, lets requests in flight finish (at most `grace` seconds), and returns
    /// whether all of them did.
    ///
    /// Connections with a whole request already buffered are still answered; idle ones, and
    /// ones still arriving, are closed (nginx retries a request on a kept connection that closed).
    /// It returns only once every request thread has ended, or at `grace`.
    public func stop(grace: Double) -> Bool {
        if stopMode == .shutDownListener { listener.shutdown() }
        gate.stop()
        let deadline = MonotonicClock.now + grace
        while running.load(ordering: .acquiring) > 0 || !gate.hasEnded {
            if MonotonicClock.now >= deadline { return inFlight.load(ordering: .relaxed) == 0 }
            usleep(2_000)
        }
        return true
    }
}
