import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import POSIXSupport

/// The monitor's HTTP side: `/ws` pushes samples to dashboards, `/metrics` serves Prometheus
/// text. nginx proxies both; the monitor serves no HTML.
public enum MonitorServer {
    /// Serves on `endpoint` until SIGTERM or SIGINT.
    ///
    /// - Parameters:
    ///   - socketMode, socketGroup: for a unix socket, who may connect (a group the process
    ///     belongs to). Until they are set, the process umask keeps it tighter.
    public static func run(
        listen endpoint: SocketEndpoint, socketMode: mode_t = 0o600, socketGroup: gid_t? = nil,
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
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Until the browser closes, or the socket drops.
                group.addTask { for try await _ in inbound {} }
                group.addTask { for await text in samples { try await outbound.write(.text(text)) } }
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
                    if let group = unixSocket.group, chown(unixSocket.path, uid_t.max, group) != 0 {
                        logger.error(
                            "socket group not set", metadata: ["path": "\(unixSocket.path)", "errno": "\(errno)"])
                    }
                    if chmod(unixSocket.path, unixSocket.mode) != 0 {
                        // A socket left at the umask's mode may be open to others: better none.
                        logger.error(
                            "socket mode not set; socket removed",
                            metadata: ["path": "\(unixSocket.path)", "errno": "\(errno)"])
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
