import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import POSIXSupport
import ServiceDefaults
import Synchronization

/// The monitor's HTTP side: `/ws` pushes samples to dashboards, `/metrics` serves Prometheus
/// text. nginx proxies both; the monitor serves no HTML.
public enum MonitorServer {
    /// How often the dashboard page says it is there (nginx/html/dashboard.js): a browser may
    /// run a hidden tab's timers only once a minute.
    public static let dashboardHeartbeatSeconds = 30.0

    /// A `/ws` connection that sent nothing for this long is closed.
    public static let defaultIdleSeconds = MonitorDefaults.webSocketIdleSeconds

    /// Serves on `endpoint` until SIGTERM or SIGINT.
    ///
    /// - Parameters:
    ///   - socketMode, socketGroup: for a unix socket, who may connect (a group the process
    ///     belongs to). Until they are set, the process umask keeps it tighter.
    ///   - idleSeconds: a dashboard that sends nothing (the page says it is there every
    ///     ``dashboardHeartbeatSeconds``) for this long is disconnected, so that abandoned or
    ///     hoarded connections do not keep `/ws`'s places.
    public static func run(
        listen endpoint: SocketEndpoint, socketMode: mode_t = 0o600, socketGroup: gid_t? = nil,
        idleSeconds: Double = defaultIdleSeconds,
        broadcaster: SampleBroadcaster, metrics: MonitorMetrics, logger: Logger
    ) async throws {
        let address: BindAddress
        let unixSocket: (path: String, mode: mode_t, group: gid_t?)?
        switch endpoint {
        case .unix(let path):
            address = .unixDomainSocket(path: path)
            unixSocket = (path, socketMode, socketGroup)
        case .tcp(let host, let port):
            address = .hostname(host, port: Int(port))
            unixSocket = nil
        }
        let unixSocketPath = unixSocket?.path
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.text())))
        }
        // The newest sample as JSON: how the monitor of the front host shows this host.
        router.get("/sample") { _, _ -> Response in
            guard let latest = broadcaster.latest else { return Response(status: .serviceUnavailable) }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: latest)))
        }
        let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
        webSocketRouter.ws("/ws") { _, _ in
            .upgrade()
        } onUpgrade: { inbound, outbound, _ in
            let samples = broadcaster.subscribe()
            let lastHeard = LastHeard()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Until the browser closes, the socket drops, or the page has said nothing for
                // idleSeconds.
                group.addTask {
                    for try await _ in inbound { lastHeard.time.withLock { $0 = MonotonicClock.now } }
                }
                group.addTask { for await text in samples { try await outbound.write(.text(text)) } }
                group.addTask {
                    while true {
                        let quiet = MonotonicClock.now - lastHeard.time.withLock { $0 }
                        if quiet >= idleSeconds { return }
                        try await Task.sleep(for: .seconds(min(5, idleSeconds - quiet + 0.05)))
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
        if let unixSocketPath { unlink(unixSocketPath) }
        let application = Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
            configuration: .init(address: address, serverName: "fullyloaded-monitor"),
            onServerRunning: { _ in
                // nginx's worker processes must be able to connect, and nobody else: under `up`
                // they run as this user (0600), under systemd in the socket's group (0660).
                if let unixSocket {
                    // errno is read at once: the log's metadata is evaluated later, after other calls.
                    if let group = unixSocket.group, chown(unixSocket.path, uid_t.max, group) != 0 {
                        let error = SystemCallError(call: "chown(\(unixSocket.path))", errno: errno)
                        logger.error(
                            "socket group not set", metadata: ["path": "\(unixSocket.path)", "error": "\(error)"])
                    }
                    if chmod(unixSocket.path, unixSocket.mode) != 0 {
                        let error = SystemCallError(call: "chmod(\(unixSocket.path))", errno: errno)
                        // A socket left at the umask's mode may be open to others: better none.
                        logger.error(
                            "socket mode not set; socket removed",
                            metadata: ["path": "\(unixSocket.path)", "error": "\(error)"])
                        unlink(unixSocket.path)
                    }
                }
            },
            logger: logger
        )
        try await application.runService()
        if let unixSocketPath { unlink(unixSocketPath) }
    }
}

/// When a `/ws` connection last sent anything, shared by its reading and its watching task.
private final class LastHeard: Sendable {
    let time = Mutex(MonotonicClock.now)
}
