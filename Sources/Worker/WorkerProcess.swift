import FastCGI
import Logging
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// A FastCGI worker process: request threads answering the password API, stopped by SIGTERM/SIGINT.
public struct WorkerProcess: Sendable {
    private let configuration: WorkerConfiguration
    private let log: Logger

    /// The signals the worker waits for in one place; blocked in every thread.
    static let handledSignals = SignalSet([SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1])

    /// Creates a worker.
    public init(configuration: WorkerConfiguration, log: Logger = Logger(label: "worker")) {
        self.configuration = configuration
        self.log = log
    }

    /// Serves until SIGTERM or SIGINT, lets requests in flight finish, and returns.
    public func run() throws(SystemCallError) {
        try Self.handledSignals.blockInCallingThread()
        var services = WorkerServices()
        do throws(SystemCallError) {
            let admission = try configuration.admission.map { settings throws(SystemCallError) in
                try AdmissionService(settings: settings, configuration: configuration, log: log)
            }
            if let admission { services.keep(admission) }
            // Listen only when ready to serve: until then nginx's connects fail at once and go to
            // another worker, instead of waiting in this one's queue while it measures and attaches.
            let listener = services.keep(
                try ListenerService(configuration: configuration, admission: admission, log: log))
            services.keep(
                ReadinessService(
                    listen: configuration.listen, threads: configuration.requestThreads, pid: getpid(), log: log))
            // Fed from READY=1 on; systemd stops watching once it stops the worker, before STOPPING=1.
            services.keep(try WatchdogService(progress: admission?.progress))

            let reason = serveUntilStopped(listener.server)
            log.info(
                "stopping",
                metadata: [
                    "reason": "\(reason)", "in_flight": .stringConvertible(listener.server.requestsInFlight),
                    "served": .stringConvertible(listener.server.requestsServed),
                ])
            services.stopAll()
            log.info("stopped", metadata: ["drained": .stringConvertible(listener.drained)])
        } catch {
            services.stopAll()
            throw error
        }
    }

    /// Waits for SIGTERM or SIGINT, or for `--max-requests`; returns why it stopped.
    private func serveUntilStopped(_ server: FastCGIServer) -> String {
        var recycling = Recycling(limit: configuration.maximumRequests, byParent: configuration.recycleByParent)
        while true {
            let signal = Self.handledSignals.wait(timeout: 0.1)
            if signal == SIGTERM || signal == SIGINT { return "signal" }
            switch recycling.action(served: server.requestsServed, now: MonotonicClock.now) {
            case .serve: continue
            case .stop: return "max_requests"
            case .askParent:
                log.info("asking to be replaced", metadata: ["served": .stringConvertible(server.requestsServed)])
                kill(getppid(), SIGUSR1)
            }
        }
    }

    /// The FastCGI parameter nginx sets to the end user a trusted proxy named
    /// (`Fullyloaded-Client`), empty for everyone else.
    public static let namedClientParameter = "FULLYLOADED_CLIENT"

    static func path(ofURI uri: String) -> String {
        if let query = uri.firstIndex(of: "?") { return String(uri[..<query]) }
        return uri
    }
}
