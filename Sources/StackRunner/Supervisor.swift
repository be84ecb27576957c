// Longer than most files: one state machine, its rules, events and actions together so that each rule reads beside the state it changes.
/// The supervisor's decisions as a value: which children run, which wait to be restarted, which
/// worker is being replaced. `up`'s loop feeds it what happened (a child exited, listens, asked to
/// be replaced; SIGHUP; the clock) and carries out the actions it returns. No I/O, no clock of its
/// own: every rule is unit-tested with made-up times.
///
/// Rules:
/// - A child that ends on its own is restarted after 0.1 s; one that keeps dying within a second
///   of starting waits 0.2 s, doubling, at most 5 s. It never gives up.
/// - Workers are replaced (rolling restart, recycling) one at a time: the old one is told to stop
///   and drains while the others serve; its replacement starts on the same socket once it has
///   exited; the next waits until that one listens. A drain that outlasts ``drainGrace`` is
///   killed; a replacement that does not listen within ``readyTimeout`` is stopped and restarted
///   like a crash, and the queue moves on: the stack keeps serving with the workers it has.
public struct Supervisor: Sendable, Equatable {
    /// Where one child is.
    public enum Phase: Sendable, Equatable {
        /// Started at `since`, not yet listening.
        case starting(pid: Int32, since: Double)
        /// Listening.
        case running(pid: Int32, since: Double)
        /// Told to stop at `since` so that it can be replaced; its exit starts the replacement.
        case draining(pid: Int32, since: Double)
        /// Not running; started again at `until`.
        case waiting(until: Double)
    }

    /// One supervised child.
    public struct Child: Sendable, Equatable {
        /// `worker 0`, `monitor`: for logs.
        public var name: String
        /// Workers are replaced on SIGHUP and when they recycle; monitors only restart.
        public var isWorker: Bool
        public var phase: Phase
        /// Restarts after it ended on its own (crashes, kills), for the log.
        public var restarts = 0
        /// Crashes in a row, each within a second of starting: what the back-off grows with.
        var quickCrashes = 0
        /// When it was last started.
        var startedAt: Double

        /// The process standing for it now, if one runs.
        public var pid: Int32? {
            switch phase {
            case .starting(let pid, _), .running(let pid, _), .draining(let pid, _): pid
            case .waiting: nil
            }
        }
    }

    /// What the loop is to do.
    public enum Action: Sendable, Equatable {
        /// Start child `index` (spawn it; then report ``started(_:pid:at:)`` or ``startFailed(_:at:)``).
        case start(Int)
        /// Ask child `index` to stop (SIGTERM); its exit is reported as usual.
        case terminate(Int, pid: Int32)
        /// Kill child `index` (SIGKILL): it outstayed its grace.
        case kill(Int, pid: Int32)
        /// Log a crash: the child, how it ended, its restarts, the delay before the next start.
        case logCrash(Int, status: String, restarts: Int, restartIn: Double)
        /// Log a finished replacement (`rolled`, `recycled`).
        case logReplaced(Int, reason: String)
        /// Log a replacement that did not come up; it is retried like a crash.
        case logReplacementFailed(Int, reason: String)
    }

    /// A worker replacement waiting its turn, or under way.
    struct Replacement: Sendable, Equatable {
        var index: Int
        var reason: String
    }

    public private(set) var children: [Child]
    /// Replacements waiting, in order.
    private(set) var queue: [Replacement] = []
    /// The replacement under way: at most one at a time.
    private(set) var current: Replacement?
    /// How long a draining worker may take before it is killed.
    public var drainGrace = 15.0
    /// How long a started child may take to listen.
    public var readyTimeout = 20.0

    /// Children that all run and listen since `now`, as ``Stack/start(readyTimeout:)`` leaves them.
    public init(running: [(name: String, isWorker: Bool, pid: Int32)], now: Double) {
        children = running.map {
            Child(name: $0.name, isWorker: $0.isWorker, phase: .running(pid: $0.pid, since: now), startedAt: now)
        }
    }

    /// The child whose process is `pid`, if any.
    public func index(ofProcess pid: Int32) -> Int? {
        children.firstIndex { $0.pid == pid }
    }

    /// Whether a replacement for `reason` is waiting or under way.
    public func isReplacing(reason: String) -> Bool {
        current?.reason == reason || queue.contains { $0.reason == reason }
    }

    // MARK: Events

    /// The loop spawned child `index` as `pid`.
    public mutating func started(_ index: Int, pid: Int32, at now: Double) {
        children[index].phase = .starting(pid: pid, since: now)
        children[index].startedAt = now
    }

    /// Spawning child `index` failed: it is retried like a crash.
    public mutating func startFailed(_ index: Int, at now: Double) -> [Action] {
        ended(index, status: "could not be started", at: now)
    }

    /// Child `index` listens.
    public mutating func listening(_ index: Int, at now: Double) -> [Action] {
        guard case .starting(let pid, _) = children[index].phase else { return [] }
        children[index].phase = .running(pid: pid, since: now)
        var actions: [Action] = []
        if let replacement = current, replacement.index == index {
            current = nil
            actions.append(.logReplaced(index, reason: replacement.reason))
            actions += nextReplacement(at: now)
        }
        return actions
    }

    /// Process `pid` of child `index` exited (`status` as the log shows it). The exit of a
    /// process the child no longer stands for (one killed for not listening) changes nothing.
    public mutating func exited(_ index: Int, pid: Int32, status: String, at now: Double) -> [Action] {
        guard let current = children[index].pid, current == pid else { return [] }
        if case .draining = children[index].phase {
            // Drained as asked: its replacement starts at once, on the same socket.
            children[index].phase = .waiting(until: now)
            return [.start(index)]
        }
        return ended(index, status: status, at: now)
    }

    /// SIGHUP: every worker is replaced, one at a time (one being replaced now is not again).
    public mutating func rollingRestartRequested(at now: Double) -> [Action] {
        for index in children.indices where children[index].isWorker {
            enqueue(Replacement(index: index, reason: "rolled"))
        }
        return nextReplacement(at: now)
    }

    /// Worker `index` served its `--max-requests` and asks to be replaced.
    public mutating func recycleRequested(_ index: Int, at now: Double) -> [Action] {
        guard children[index].isWorker else { return [] }
        enqueue(Replacement(index: index, reason: "recycled"))
        return nextReplacement(at: now)
    }

    /// The clock moved on: restarts that are due, drains and starts that took too long.
    public mutating func tick(at now: Double) -> [Action] {
        var actions: [Action] = []
        for index in children.indices {
            switch children[index].phase {
            case .waiting(let until) where until <= now:
                actions.append(.start(index))
            case .draining(let pid, let since) where now - since > drainGrace:
                actions.append(.kill(index, pid: pid))
            case .starting(let pid, let since) where now - since > readyTimeout:
                // It runs but never listens: kill it and treat it as a crash. Its exit, when
                // reaped, no longer matches the child and changes nothing.
                actions.append(.kill(index, pid: pid))
                if let replacement = current, replacement.index == index {
                    current = nil
                    actions.append(.logReplacementFailed(index, reason: replacement.reason))
                }
                actions += ended(index, status: "did not listen within \(readyTimeout) s", at: now)
            default:
                break
            }
        }
        return actions + nextReplacement(at: now)
    }

    // MARK: Rules

    private mutating func enqueue(_ replacement: Replacement) {
        guard current?.index != replacement.index, !queue.contains(where: { $0.index == replacement.index }) else {
            return
        }
        queue.append(replacement)
    }

    /// Starts the next replacement when none is under way and its worker runs; a worker that is
    /// down (crashed, restarting) leaves the queue: its restart is its replacement.
    private mutating func nextReplacement(at now: Double) -> [Action] {
        while current == nil, !queue.isEmpty {
            let next = queue.removeFirst()
            guard case .running(let pid, _) = children[next.index].phase else { continue }
            current = next
            children[next.index].phase = .draining(pid: pid, since: now)
            return [.terminate(next.index, pid: pid)]
        }
        return []
    }

    /// A child ended on its own: restart after 0.1 s, or with back-off when it keeps dying as it
    /// starts. A replacement that ends this way has failed; the queue moves on.
    private mutating func ended(_ index: Int, status: String, at now: Double) -> [Action] {
        var child = children[index]
        child.restarts += 1
        child.quickCrashes = now - child.startedAt < 1 ? child.quickCrashes + 1 : 0
        let delay = child.quickCrashes == 0 ? 0.1 : min(5, 0.1 * Double(1 << min(child.quickCrashes, 6)))
        child.phase = .waiting(until: now + delay)
        children[index] = child
        var actions: [Action] = [.logCrash(index, status: status, restarts: child.restarts, restartIn: delay)]
        if let replacement = current, replacement.index == index {
            current = nil
            actions.append(.logReplacementFailed(index, reason: replacement.reason))
            actions += nextReplacement(at: now)
        }
        return actions
    }
}
