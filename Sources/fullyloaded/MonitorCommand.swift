import ArgumentParser
import Foundation
import Logging
import LoopbackHTTP
import Monitor
import POSIXSupport
import ServiceDefaults
import Synchronization

/// `fullyloaded monitor`: samples the host and pushes it to dashboards over WebSocket.
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Push live samples (CPU, ping, throughput, queue) to dashboards; serve /metrics."
    )

    @Option(help: "Where to listen: unix:/path or host:port (nginx proxies /ws and /metrics here).")
    var listen: String

    @Option(
        help:
            "The shared segment of this host's workers: a file in a directory only this user or root may write, on tmpfs."
    )
    var segment = "/run/fullyloaded/segment/admission"

    @Option(help: "nginx's plain-HTTP port on 127.0.0.1, for the ping probe.")
    var pingPort: UInt16 = 8080

    @Option(help: "The cost the predicted wait is shown for.")
    var cost = HashDefaults.cost

    @Option(help: "Seconds between samples (\(FlagRange.interval.text)).")
    var interval = 0.25

    @Option(help: "The architecture the stack runs, shown on the dashboard.")
    var architecture = "fine"

    @Option(help: "This host's name in the host list.")
    var hostName = "localhost"

    @Option(help: "Another host's monitor to list on the dashboard: NAME=unix:/path or NAME=host:port (repeatable).")
    var peer: [String] = []

    @Option(
        help:
            "Mode of the unix socket, in octal (600: the monitor's user only, as nginx is under `up`; 660 with --socket-group for nginx's group)."
    )
    var socketMode = "600"

    @Option(help: "Group of the unix socket (e.g. www-data, nginx's), which the monitor must be a member of.")
    var socketGroup: String?

    @Option(
        help:
            "Seconds a dashboard may send nothing before /ws closes it (the page says it is there every 30 s; \(FlagRange.webSocketIdle.text))."
    )
    var wsIdleSeconds = MonitorServer.defaultIdleSeconds

    // Set by `fullyloaded up` for its children; not for operators, so not in --help.
    @Flag(help: ArgumentHelp("Exit when the parent process exits.", visibility: .hidden))
    var exitWithParent = false

    /// The one asynchronous command: the others block signals before any thread starts and wait
    /// for them in one place, so the root command stays synchronous and this one bridges.
    func run() throws {
        let outcome = Mutex<(any Error)??>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await serve()
                outcome.withLock { $0 = .some(nil) }
            } catch {
                outcome.withLock { $0 = .some(error) }
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.withLock({ $0 }) ?? nil { throw error }
    }

    private func serve() async throws {
        try FlagRange.interval.check(interval)
        try FlagRange.webSocketIdle.check(wsIdleSeconds)
        guard wsIdleSeconds >= 1, wsIdleSeconds <= 86_400 else {
            throw ValidationError("--ws-idle-seconds must be 1...86400")
        }
        guard let endpoint = SocketEndpoint(parsing: listen) else {
            throw ValidationError("--listen \(listen) is not unix:/path or host:port")
        }
        var directory: String?
        if case .unix(let path) = endpoint { directory = (path as NSString).deletingLastPathComponent }
        let permissions = try SocketPermissions(mode: socketMode, group: socketGroup, directory: directory)
        let peers = try peer.map { text throws -> Sampler.Peer in
            guard let equals = text.firstIndex(of: "="),
                let endpoint = SocketEndpoint(parsing: String(text[text.index(after: equals)...]))
            else { throw ValidationError("--peer \(text) is not NAME=unix:/path or NAME=host:port") }
            return Sampler.Peer(name: String(text[..<equals]), endpoint: endpoint)
        }
        if exitWithParent { try setParentDeathSignal(SIGTERM) }
        var logger = Logger(label: "fullyloaded.monitor")
        logger.logLevel = .warning

        let broadcaster = SampleBroadcaster()
        let metrics = MonitorMetrics()
        let (interval, segment, pingPort, cost, architecture, hostName) = (
            interval, segment, pingPort, cost, architecture, hostName
        )
        // A thread of its own: the ping probe blocks, and must not hold up the server's event loops.
        try PlatformThread.startDetached(name: "sampler") {
            let sampler = Sampler(
                segmentPath: segment, ping: LoopbackHTTPClient(port: pingPort, timeout: 1), predictionCost: cost,
                architecture: architecture, hostName: hostName, peers: peers)
            sampler.run(every: interval, metrics: metrics, broadcaster: broadcaster)
        }
        Logger(label: "monitor").info("ready", metadata: ["listen": "\(listen)"])
        try await MonitorServer.run(
            listen: endpoint, socketMode: permissions.mode, socketGroup: permissions.group,
            idleSeconds: wsIdleSeconds, broadcaster: broadcaster,
            metrics: metrics, logger: logger)
    }
}
