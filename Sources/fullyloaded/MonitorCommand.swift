import ArgumentParser
import CommandLineOptions
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

    @OptionGroup var options: MonitorOptions

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
        try FlagRange.interval.check(options.interval)
        try FlagRange.webSocketIdle.check(options.wsIdleSeconds)
        guard options.wsIdleSeconds >= 1, options.wsIdleSeconds <= 86_400 else {
            throw ValidationError("--ws-idle-seconds must be 1...86400")
        }
        guard let endpoint = SocketEndpoint(parsing: listen) else {
            throw ValidationError("--listen \(listen) is not unix:/path or host:port")
        }
        var directory: String?
        if case .unix(let path) = endpoint { directory = (path as NSString).deletingLastPathComponent }
        let permissions = try SocketPermissions(
            mode: options.socketMode, group: options.socketGroup, directory: directory)
        let peers = try options.peer.map { text throws -> Sampler.Peer in
            guard let equals = text.firstIndex(of: "="),
                let endpoint = SocketEndpoint(parsing: String(text[text.index(after: equals)...]))
            else { throw ValidationError("--peer \(text) is not NAME=unix:/path or NAME=host:port") }
            return Sampler.Peer(name: String(text[..<equals]), endpoint: endpoint)
        }
        if options.exitWithParent { try setParentDeathSignal(SIGTERM) }
        var logger = Logger(label: "fullyloaded.monitor")
        logger.logLevel = .warning

        let broadcaster = SampleBroadcaster()
        let metrics = MonitorMetrics()
        let options = options
        // A thread of its own: the ping probe blocks, and must not hold up the server's event loops.
        try PlatformThread.startDetached(name: "sampler") {
            let sampler = Sampler(
                segmentPath: options.segment, ping: LoopbackHTTPClient(port: options.pingPort, timeout: 1),
                predictionCost: options.cost,
                architecture: options.architecture, hostName: options.hostName, peers: peers)
            sampler.run(every: options.interval, metrics: metrics, broadcaster: broadcaster)
        }
        Logger(label: "monitor").info("ready", metadata: ["listen": "\(listen)"])
        try await MonitorServer.run(
            listen: endpoint, socketMode: permissions.mode, socketGroup: permissions.group,
            idleSeconds: options.wsIdleSeconds, broadcaster: broadcaster,
            metrics: metrics, logger: logger)
    }
}
