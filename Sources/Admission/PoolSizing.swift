/// How a worker's request threads are shared out, and the nginx numbers that follow from it:
/// the one place these are derived, for the worker, `fullyloaded up` and the production site.
///
/// A thread serves one request at a time; a connection nginx keeps waits for its next request
/// in the worker's connection gate, holding no thread. So of `requestThreads`, at most half go
/// to expensive requests (waiting for a slot, or held back as paced refusals — of those, at
/// most half), and the other half or more is always free for pings and stats, whatever the
/// load. The connections nginx keeps (two upstreams, cheap and expensive, in every nginx
/// process) are bounded too, to a quarter of the threads, far below the gate's limit.
public struct PoolSizing: Sendable, Equatable {
    /// Request threads per worker unless told otherwise (`worker`, `up`, the production units).
    public static let defaultRequestThreads = 512

    /// Idle connections all nginx processes together keep to one worker, at the most.
    public static let maximumKeptConnections = 256

    /// Request threads per worker.
    public var requestThreads: Int
    /// nginx worker processes (each keeps its own idle connections).
    public var nginxProcesses: Int

    /// Creates the sizing for workers of `requestThreads` behind `nginxProcesses` nginx processes.
    public init(requestThreads: Int, nginxProcesses: Int) {
        self.requestThreads = max(1, requestThreads)
        self.nginxProcesses = max(1, nginxProcesses)
    }

    /// Expensive requests one worker handles at once; nginx's `max_conns` for the expensive
    /// upstream, and the worker's own limit for clients that bypass nginx.
    public var expensiveRequests: Int { max(1, requestThreads / 2) }

    /// Refusals one worker holds back at once for the refusal budget; past this they leave at once.
    public var heldRefusals: Int { expensiveRequests / 2 }

    /// Idle connections each nginx process keeps to each upstream, or `nil` for none: a
    /// single-threaded worker can keep none (one kept connection would shut every other out),
    /// and too few threads for many nginx processes keep none either.
    public var keptConnectionsPerUpstream: Int? {
        // At most 256 for a worker in all, a third of what its connection gate holds.
        let kept = min(requestThreads / 8, Self.maximumKeptConnections / 2) / nginxProcesses
        return kept >= 1 ? kept : nil
    }

    /// Idle connections all nginx processes keep to one worker, at the most.
    public var keptConnections: Int { 2 * (keptConnectionsPerUpstream ?? 0) * nginxProcesses }

    /// Threads no expensive request can take: the cheap routes' own.
    public var cheapThreads: Int { requestThreads - expensiveRequests }
}
