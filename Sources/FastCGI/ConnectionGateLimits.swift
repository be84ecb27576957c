/// How long a connection may take to send its request, and how many may wait at once, before a
/// FastCGI server closes them.
public struct ConnectionGateLimits: Sendable {
    /// From accept, or from the first byte of a kept connection's next request, to the whole
    /// request.
    public var requestSeconds: Double
    /// Between requests on a kept connection: longer than nginx's keepalive_timeout for
    /// upstreams (60 s), so that nginx closes its idle connections, not the worker.
    public var idleSeconds: Double
    /// Connections waiting at once; past it, the oldest still waiting for its request is closed.
    public var capacity: Int

    /// Creates the limits; the defaults are the production ones.
    public init(requestSeconds: Double = 1, idleSeconds: Double = 75, capacity: Int = 4096) {
        self.requestSeconds = requestSeconds
        self.idleSeconds = idleSeconds
        self.capacity = capacity
    }
}
