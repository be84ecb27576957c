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

    private let listener: FileDescriptor
    private let threadCount: Int
    private let makeHandler: HandlerFactory
    private let inFlight = Atomic<Int>(0)
    private let running = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)

    private static let initialise: Void = {
        // Signals are blocked by the caller before this; FCGX_Init's own handlers never run.
        _ = FCGX_Init()
    }()

    /// Creates a server on a listening socket it takes ownership of.
    public init(listener: FileDescriptor, threadCount: Int, makeHandler: @escaping HandlerFactory) {
        self.listener = listener
        self.threadCount = threadCount
        self.makeHandler = makeHandler
    }

    /// Requests being handled right now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

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
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        defer { request.deallocate() }
        guard FCGX_InitRequest(request, listener.rawValue, 0) == 0 else { return }
        while !stopping.load(ordering: .relaxed) {
            guard FCGX_Accept_r(request) >= 0 else { break }
            inFlight.add(1, ordering: .relaxed)
            handler(FastCGIRequest(raw: request))
            FCGX_Finish_r(request)
            inFlight.subtract(1, ordering: .relaxed)
        }
        FCGX_Free(request, 1)
    }

    /// Stops accepting, lets requests in flight finish (at most `grace` seconds), and returns
    /// whether all of them did.
    ///
    /// Shutting the listening socket down wakes every thread blocked in accept. Threads parked on
    /// a kept-alive nginx connection between requests are not waited for: they hold no request,
    /// and the process exits under them.
    public func stop(grace: Double) -> Bool {
        stopping.store(true, ordering: .relaxed)
        listener.shutdown()
        let deadline = MonotonicClock.now + grace
        while inFlight.load(ordering: .relaxed) > 0 {
            if MonotonicClock.now >= deadline { return false }
            usleep(2_000)
        }
        return true
    }
}
