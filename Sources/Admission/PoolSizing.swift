/// How a worker's request threads are shared out, and the nginx numbers that follow from it:
/// the one place these are derived, for the worker, `fullyloaded up` and the production site.
///
/// A request thread serves one connection at a time, and parks on an idle connection nginx keeps
/// (past `pinnedThreads`, idle connections wait without a thread).
/// So of `requestThreads`: at most half go to expensive requests (waiting for a slot, or held
/// back as paced refusals — of those, at most half), at most a quarter are pinned by the
/// connections nginx keeps (two upstreams, cheap and expensive, in every nginx process), and
/// the last quarter or more is always free for pings and stats, whatever the load.
public struct PoolSizing: Sendable, Equatable {
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
    public var heldRefusals: Int { Self.heldRefusals(expensiveRequests: expensiveRequests) }

    /// Refusals held back at once by a worker that handles `expensiveRequests` at once (half of
    /// them), also when `--expensive-threads` sets that number apart from the threads.
    public static func heldRefusals(expensiveRequests: Int) -> Int { expensiveRequests / 2 }

    /// Idle connections each nginx process keeps to each upstream, or `nil` for none: a
    /// single-threaded worker can keep none (one kept connection would shut every other out),
    /// and too few threads for many nginx processes keep none either.
    public var keptConnectionsPerUpstream: Int? {
        let kept = requestThreads / (8 * nginxProcesses)
        return kept >= 1 ? kept : nil
    }

    /// Threads that idle kept connections may pin at the most.
    public var pinnedThreads: Int { 2 * (keptConnectionsPerUpstream ?? 0) * nginxProcesses }

    /// Threads no expensive request and no idle connection can take: the cheap routes' own.
    public var cheapThreads: Int { requestThreads - expensiveRequests - pinnedThreads }
}
