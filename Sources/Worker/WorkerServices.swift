/// A part of a worker with a lifetime: made started, stopped once by ``WorkerServices``.
protocol WorkerService {
    /// Stops what starting began; called once, after every service started later has stopped.
    func stop()
}

/// The worker's services, stopped in the reverse order of their start: admission, the
/// listener, readiness, the watchdog. The listener drains while the heartbeat still marks the
/// worker alive, and the worker leaves the segment last.
///
/// Not swift-service-lifecycle, hummingbird's choice: its `ServiceGroup` runs `async` services
/// on Swift's cooperative thread pool and catches signals through an async sequence. The worker
/// is blocking by design (libfcgi's accept and request threads, compute threads at a lower
/// priority, one `sigtimedwait` for every signal), and a blocking service would hold one of that
/// pool's few threads for its whole life. What the worker needs is the order: start one by one,
/// stop in reverse, and stop those already started when a later one fails to start.
struct WorkerServices: ~Copyable {
    private var started: [any WorkerService] = []

    init() {}

    /// Keeps a service that has just started, for ``stopAll()``.
    @discardableResult
    mutating func keep<Service: WorkerService>(_ service: Service) -> Service {
        started.append(service)
        return service
    }

    /// Stops every service kept, the last started first.
    mutating func stopAll() {
        for service in started.reversed() { service.stop() }
        started.removeAll()
    }

    deinit {
        assert(started.isEmpty, "worker services dropped without stopAll(): their threads still run")
    }
}
