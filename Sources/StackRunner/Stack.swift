import Admission
import Foundation
import Logging
import POSIXSupport

/// The whole stack on loopback: nginx in the foreground as a child, a pool of workers and the
/// monitor, all under one runtime directory that is removed again on stop.
public final class Stack {
    /// The signals the supervisor waits for; blocked before any child starts.
    public static let supervisedSignals = SignalSet([SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1])

    /// A supervised child: a worker, or the monitor.
    struct ChildSlot {
        /// `worker 0`, `monitor`: for logs and errors.
        var name: String
        /// Its log file's name in the runtime directory.
        var logName: String
        /// Where it listens once ready.
        var endpoint: SocketEndpoint
        var arguments: [String]
        var process: ChildProcess?
        /// A listening socket the stack holds for the child's whole life and hands to every
        /// start of it (as systemd does): a TCP worker's port is never free between a worker
        /// and the next, for another local user to bind and receive nginx's requests.
        var listener: FileDescriptor?
    }

    /// The configuration it runs.
    public let configuration: StackConfiguration
    /// The runtime directory in use ("" before ``start()``).
    public var runtimeDirectory: String { runtime?.path ?? "" }
    var runtime: RuntimeDirectory?
    var workers: [ChildSlot] = []
    /// One per host; the first serves the dashboard and shows the others as its peers.
    var monitors: [ChildSlot] = []
    var nginx: ChildProcess?
    /// Children killed for not listening whose exit is still to be reaped.
    var orphans: [ChildProcess] = []
    /// Whether children start in sessions of their own: only when this process leads the
    /// session of a terminal it could not give up.
    var childrenNeedSessions = false
    let log = Logger(label: "up")

    /// Creates a stack; nothing starts until ``start()``.
    public init(configuration: StackConfiguration) {
        self.configuration = configuration
    }

    /// The shared segment of this stack's workers, in a private directory of its own, so that
    /// two stacks on one machine keep separate promises and no other user can take its name.
    public var segmentPath: String { segmentPath(host: 0) }

    /// The segment of one rehearsal host (`--hosts`): each keeps its own promise.
    public func segmentPath(host: Int) -> String {
        (runtime?.segmentDirectory ?? "") + "/admission" + (host == 0 ? "" : "-h\(host)")
    }

    /// The URL the stack serves.
    public var url: String { "http://127.0.0.1:\(configuration.httpPort)/" }

    /// The HTTPS URL, when HTTPS is on.
    public var secureURL: String? { configuration.httpsPort.map { "https://localhost:\($0)/" } }

    /// Starts workers, then nginx, and returns once `/api/ping` answers through nginx.
    /// On failure everything started so far is stopped again.
    public func start(readyTimeout: Double = 20) throws(StackError) {
        guard configuration.workers >= 1 || !configuration.remoteWorkers.isEmpty else {
            throw .invalidConfiguration("--workers must be at least 1 (or name other hosts' workers with --upstream)")
        }
        guard (1...16).contains(configuration.hosts) else { throw .invalidConfiguration("--hosts must be 1...16") }
        guard configuration.requestThreads >= 1 else { throw .invalidConfiguration("--threads must be at least 1") }
        guard LoopbackPort.isFree(configuration.httpPort) else { throw .portInUse(configuration.httpPort) }
        if let https = configuration.httpsPort {
            guard https != configuration.httpPort, LoopbackPort.isFree(https) else {
                throw .portInUse(https, option: "--https-port")
            }
        }
        // No child may inherit the terminal of the shell that started us (TIOCSTI). Children stay
        // in this session where they can: one CPU scheduling group (autogroup), in which the
        // compute threads' niceness yields to nginx and the request threads.
        childrenNeedSessions = ControllingTerminal.detach() == .sessionLeader
        let template = try NginxTemplate(contentsOf: configuration.shareDirectory + "/nginx/up.conf.template")
        do {
            runtime = try RuntimeDirectory(given: configuration.runtimeDirectory)
            try writePepperFile()
            workers = try makeWorkerSlots()
            for index in workers.indices { try start(&workers[index]) }
            try waitForSockets(of: workers, timeout: readyTimeout)
            monitors = makeMonitorSlots()
            for index in monitors.indices { try start(&monitors[index]) }
            try waitForSockets(of: monitors, timeout: readyTimeout)
            try startNginx(template: template)
            try waitForPing(timeout: readyTimeout)
            log.info(
                "ready",
                metadata: [
                    "url": "\(url)", "workers": .stringConvertible(configuration.workerCount),
                    "architecture": "\(configuration.architecture.rawValue)",
                ])
        } catch {
            stop()
            throw error
        }
    }

    /// Stops nginx and the workers (gracefully, then by force) and removes the runtime directory.
    public func stop() {
        if let nginx {
            // SIGQUIT: nginx finishes the requests it is serving, then exits.
            _ = try? nginx.stop(signal: SIGQUIT, grace: 5)
            self.nginx = nil
        }
        for index in monitors.indices {
            if let process = monitors[index].process {
                _ = try? process.stop(signal: SIGTERM, grace: 5)
                monitors[index].process = nil
            }
            if case .unix(let path) = monitors[index].endpoint { unlink(path) }
        }
        for index in workers.indices {
            if let process = workers[index].process {
                _ = try? process.stop(signal: SIGTERM, grace: 10)
                workers[index].process = nil
            }
            workers[index].listener?.close()
            workers[index].listener = nil
        }
        for orphan in orphans { _ = try? orphan.stop(signal: SIGKILL, grace: 1) }
        orphans = []
        if !runtimeDirectory.isEmpty {
            for host in 0..<configuration.hosts { SharedSegment.unlink(path: segmentPath(host: host)) }
        }
        runtime?.remove()
        log.info("stopped")
    }
}
