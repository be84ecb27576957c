import Admission
import POSIXSupport

/// The nginx directives that follow from a worker pool and N: the two upstream blocks over the
/// same worker sockets, the FastCGI timeouts and the retry rules. One renderer for
/// `fullyloaded up` and for the production site (`fullyloaded nginx-upstreams`), so that the
/// numbers cannot drift apart.
///
/// Expensive and cheap routes go to two upstreams over the same sockets: nginx counts their
/// connections apart, so `max_conns` caps only the expensive ones, and a burst of pings waits
/// its microseconds for a thread instead of being refused.
public struct NginxUpstreams: Sendable, Equatable {
    /// The worker sockets, in order.
    public var servers: [SocketEndpoint]
    /// How the workers' threads are shared out.
    public var sizing: PoolSizing
    /// N, in seconds.
    public var deadline: Double
    /// Whether the servers span several hosts (then a refusal at once is retried on another).
    public var isMultiHost: Bool
    /// Whether nginx caps expensive connections per worker (the full design; not the earlier rounds).
    public var capsConnections = true
    /// Whether nginx's timeouts follow N (the full design; the earlier rounds make no promise).
    public var boundsWaitsByDeadline = true

    /// The expensive routes' upstream.
    public static let expensiveUpstream = "fullyloaded_workers"
    /// The cheap routes' upstream (ping, stats).
    public static let cheapUpstream = "fullyloaded_cheap"

    /// Creates the directives for `servers`.
    public init(servers: [SocketEndpoint], sizing: PoolSizing, deadline: Double, isMultiHost: Bool) {
        self.servers = servers
        self.sizing = sizing
        self.deadline = deadline
        self.isMultiHost = isMultiHost
    }

    /// What nginx adds to N at most before it answers for a worker that said nothing: time to
    /// write its own JSON 503 (every answer leaves within N + this of nginx receiving the request).
    public static let answerAllowanceMilliseconds = 25

    /// How long nginx waits on a worker: N plus the allowance. Workers answer by N counted from
    /// nginx's `$msec`, so only a worker that died or hung is cut short.
    public var timeoutMilliseconds: Int {
        guard boundsWaitsByDeadline else { return 300_000 }
        return Int((deadline * 1000).rounded()) + Self.answerAllowanceMilliseconds
    }

    /// How long nginx waits to connect: unix sockets connect or fail at once; another host's
    /// silence means it is down or cut off.
    public var connectTimeout: String { isMultiHost ? "50ms" : "1s" }

    /// How long after a request starts nginx may still pass it to another worker. One host:
    /// 50 ms, for failures right at the start (a worker restarting). Several: a tenth of N,
    /// which the 0.9 headroom leaves free, so a refusal at once can be retried on another host;
    /// always less than N, so that a 503 that comes after the work (an overrun) is never passed on.
    public var retryWindowMilliseconds: Int { isMultiHost ? max(1, Int(deadline * 100)) : 50 }

    /// The `upstream` blocks and the `fastcgi_*` directives, for nginx's `http` context.
    public func render() -> String {
        var lines: [String] = ["# Rendered by fullyloaded from the pool's size and N; do not edit by hand."]
        for (name, caps) in [(Self.expensiveUpstream, capsConnections), (Self.cheapUpstream, false)] {
            lines.append("upstream \(name) {")
            lines.append("    # Shared by nginx's processes, so that max_conns counts all their connections.")
            lines.append("    zone \(name) 64k;")
            lines.append("    least_conn;")
            let cap = caps ? " max_conns=\(sizing.expensiveRequests)" : ""
            for server in servers {
                // max_fails=0: a worker restarting refuses connects for a moment, and a full host
                // passes a 503 on; neither may shut the server out for fail_timeout.
                switch server {
                case .unix(let path): lines.append("    server unix:\(path)\(cap) max_fails=0;")
                case .tcp: lines.append("    server \(server)\(cap) max_fails=0;")
                }
            }
            if let kept = sizing.keptConnectionsPerUpstream {
                // An idle kept connection parks a worker thread while PoolSizing's pinned threads
                // last, and waits without one past them.
                lines.append("    keepalive \(kept);")
            }
            lines.append("}")
        }
        let timeout = "\(timeoutMilliseconds)ms"
        lines += [
            "fastcgi_connect_timeout \(connectTimeout);",
            "fastcgi_send_timeout \(timeout);",
            "fastcgi_read_timeout \(timeout);",
            // Failures right at the start only (a worker restarting, a kept connection it
            // closed as it exited); POSTs too: /api/hash and /api/verify change nothing.
            "fastcgi_next_upstream \(isMultiHost ? "error timeout http_503 non_idempotent" : "error timeout non_idempotent");",
            "fastcgi_next_upstream_timeout \(retryWindowMilliseconds)ms;",
            "fastcgi_next_upstream_tries \(max(1, servers.count));",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
