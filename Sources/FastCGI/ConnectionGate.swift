// Longer than most files: one state machine over the waiting connections (their table, the
// ready list, the epoll set and the timers), whose invariants hold only together.

import POSIXSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Holds the connections that have not yet sent a whole request, on one thread and an epoll
/// set, so that no request thread waits on a peer: a silent or dribbling connection costs a
/// descriptor and a table entry, never a thread.
///
/// A connection leaves when ``FastCGIRequestScan`` finds one whole request buffered (to the
/// ready list, for the next free request thread), or is closed: when it sends something that is
/// not a request, hangs up, or runs out of time — ``ConnectionGateLimits/requestSeconds`` from accept or from
/// the first byte of its next request, ``ConnectionGateLimits/idleSeconds`` for a connection kept
/// between requests. At ``ConnectionGateLimits/capacity`` connections the oldest still waiting for its request makes
/// room (else the oldest idle one).
final class ConnectionGate: Sendable {
    /// What a held connection waits for.
    enum Wait: Sendable {
        /// A request it has begun, or will begin: it was just accepted.
        case request
        /// The next request on a kept connection, which has sent nothing since its last answer.
        case idle
    }

    private struct Held {
        var wait: Wait
        var generation: UInt64
    }

    /// Held connections in the order their time runs out (one list per limit, so each is in
    /// deadline order); entries whose generation no longer matches were taken or closed.
    private struct Deadline {
        var descriptor: Int32
        var generation: UInt64
        var at: Double
    }

    private struct State {
        var held: [Int32: Held] = [:]
        var requestDeadlines = DeadlineList()
        var idleDeadlines = DeadlineList()
        var ready: [Int32] = []
        var readyHead = 0
        var generation: UInt64 = 0
        var stopped = false
    }

    private struct DeadlineList {
        private var entries: [Deadline] = []
        private var head = 0

        var first: Deadline? { head < entries.count ? entries[head] : nil }

        mutating func append(_ deadline: Deadline) { entries.append(deadline) }

        mutating func removeFirst() {
            head += 1
            if head > 1024, head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
        }
    }

    private let limits: ConnectionGateLimits
    private let poll: EventPoll
    private let state = Mutex(State())
    private let readyCount = Atomic<Int>(0)
    private let heldCount = Atomic<Int>(0)
    private let timedOut = Atomic<Int>(0)
    private let invalid = Atomic<Int>(0)
    private let evicted = Atomic<Int>(0)
    private let ended = Atomic<Bool>(false)
    private let onInvalid: @Sendable (String) -> Void

    /// Creates the gate; ``start(onReady:)`` starts its thread.
    ///
    /// - Parameter onInvalid: called with the reason when a connection is closed for what it sent.
    init(limits: ConnectionGateLimits, onInvalid: @escaping @Sendable (String) -> Void) throws(SystemCallError) {
        self.limits = limits
        self.onInvalid = onInvalid
        poll = try EventPoll()
    }

    /// How long a kept connection may idle between requests.
    var idleSeconds: Double { limits.idleSeconds }

    /// Connections held now.
    var connectionsHeld: Int { heldCount.load(ordering: .relaxed) }
    /// Connections closed because their request did not come in time, or they idled too long.
    var connectionsTimedOut: Int { timedOut.load(ordering: .relaxed) }
    /// Connections closed because what they sent is not a request this server serves.
    var connectionsInvalid: Int { invalid.load(ordering: .relaxed) }
    /// Connections closed to make room for newer ones.
    var connectionsEvicted: Int { evicted.load(ordering: .relaxed) }

    /// Starts the gate's thread; it calls `onReady` while connections are ready and not taken
    /// (again every few milliseconds until they are), to wake a request thread.
    func start(onReady: @escaping @Sendable () -> Void) throws(SystemCallError) {
        try PlatformThread.startDetached(name: "fcgi-gate", stackSize: 1 << 20) { [self] in
            run(onReady: onReady)
            ended.store(true, ordering: .releasing)
        }
    }

    /// Takes a connection the gate owns from now on: it comes back through ``takeReady()`` once
    /// it has sent a whole request, or is closed.
    func hold(_ descriptor: Int32, waiting wait: Wait) {
        let now = MonotonicClock.now
        let accepted = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            while state.held.count >= limits.capacity, let oldest = Self.oldest(&state) {
                state.held[oldest] = nil
                poll.forget(oldest)
                Glibc.close(oldest)
                evicted.add(1, ordering: .relaxed)
            }
            state.generation &+= 1
            state.held[descriptor] = Held(wait: wait, generation: state.generation)
            let deadline = Deadline(
                descriptor: descriptor, generation: state.generation,
                at: now + (wait == .request ? limits.requestSeconds : limits.idleSeconds))
            if wait == .request {
                state.requestDeadlines.append(deadline)
            } else {
                state.idleDeadlines.append(deadline)
            }
            heldCount.store(state.held.count, ordering: .relaxed)
            return true
        }
        guard accepted else {
            Glibc.close(descriptor)
            return
        }
        // Added after it is in the table: epoll reports input that is already there at once.
        do {
            try poll.watch(descriptor)
        } catch {
            release(descriptor)
        }
    }

    /// A connection with a whole request buffered, if any; the caller owns it.
    func takeReady() -> Int32? {
        guard readyCount.load(ordering: .acquiring) > 0 else { return nil }
        return state.withLock { state -> Int32? in
            guard state.readyHead < state.ready.count else { return nil }
            let descriptor = state.ready[state.readyHead]
            state.readyHead += 1
            if state.readyHead == state.ready.count {
                state.ready.removeAll(keepingCapacity: true)
                state.readyHead = 0
            }
            readyCount.store(state.ready.count - state.readyHead, ordering: .releasing)
            return descriptor
        }
    }

    /// Closes every connection it holds or has ready, and ends its thread.
    /// Closes every held connection that is idle between requests, and keeps those with a
    /// request coming or ready: as a stop begins, so that nginx sends no more requests on
    /// connections nobody will serve (a closed one it does not use again).
    func closeIdle() {
        let idle = state.withLock { state -> [Int32] in
            let idle = state.held.filter { $0.value.wait == .idle }.map(\.key)
            for descriptor in idle { state.held[descriptor] = nil }
            heldCount.store(state.held.count, ordering: .relaxed)
            return idle
        }
        for descriptor in idle {
            poll.forget(descriptor)
            Glibc.close(descriptor)
        }
    }

    func stop() {
        let descriptors = state.withLock { state -> [Int32] in
            state.stopped = true
            let all = Array(state.held.keys) + state.ready[state.readyHead...]
            state.held = [:]
            state.ready = []
            state.readyHead = 0
            readyCount.store(0, ordering: .releasing)
            heldCount.store(0, ordering: .relaxed)
            return all
        }
        for descriptor in descriptors {
            poll.forget(descriptor)
            Glibc.close(descriptor)
        }
        poll.wake()
        while !ended.load(ordering: .acquiring) { usleep(1_000) }
        poll.close()
    }

    /// The oldest connection still waiting for its request, else the oldest idle one.
    private static func oldest(_ state: inout State) -> Int32? {
        for idle in [false, true] {
            while let first = idle ? state.idleDeadlines.first : state.requestDeadlines.first {
                if idle { state.idleDeadlines.removeFirst() } else { state.requestDeadlines.removeFirst() }
                if state.held[first.descriptor]?.generation == first.generation { return first.descriptor }
            }
        }
        return nil
    }

    private func run(onReady: @Sendable () -> Void) {
        var ready = [Int32](repeating: -1, count: 256)
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: FastCGIRequestScan.maximumRequestBytes, alignment: 16)
        defer { buffer.deallocate() }
        while !state.withLock({ $0.stopped }) {
            // Deadlines are at least requestSeconds away when set: a tenth of a second is soon
            // enough to see them; ready connections nobody took are offered again sooner.
            let timeout: Int32 = readyCount.load(ordering: .relaxed) > 0 ? 2 : 100
            let (count, _) = poll.wait(into: &ready, timeoutMilliseconds: timeout)
            for index in 0..<count { examine(ready[index], buffer: buffer) }
            expire(now: MonotonicClock.now)
            if readyCount.load(ordering: .acquiring) > 0 { onReady() }
        }
    }

    /// New input on a held connection: ready, closed, or left to wait on.
    private func examine(_ descriptor: Int32, buffer: UnsafeMutableRawBufferPointer) {
        switch Self.peek(descriptor, into: buffer) {
        case .complete:
            state.withLock { state in
                guard state.held.removeValue(forKey: descriptor) != nil else { return }
                poll.forget(descriptor)
                state.ready.append(descriptor)
                readyCount.store(state.ready.count - state.readyHead, ordering: .releasing)
                heldCount.store(state.held.count, ordering: .relaxed)
            }
        case .nothing:
            break
        case .partial:
            // A kept connection's next request has begun: it now has requestSeconds to finish.
            let now = MonotonicClock.now
            state.withLock { state in
                guard var held = state.held[descriptor], held.wait == .idle else { return }
                state.generation &+= 1
                held.wait = .request
                held.generation = state.generation
                state.held[descriptor] = held
                state.requestDeadlines.append(
                    Deadline(descriptor: descriptor, generation: held.generation, at: now + limits.requestSeconds))
            }
        case .closed:
            release(descriptor)
        case .invalid(let reason):
            // Counted before the close, so that whoever sees the close sees the count.
            release(descriptor, invalidBecause: reason)
        }
    }

    /// Counts (and reports) a connection a request thread closed for what it sent.
    func recordInvalid(_ reason: String) {
        invalid.add(1, ordering: .relaxed)
        onInvalid(reason)
    }

    /// Closes every held connection whose time ran out.
    private func expire(now: Double) {
        let expired = state.withLock { state -> [Int32] in
            var expired: [Int32] = []
            for idle in [false, true] {
                while let first = idle ? state.idleDeadlines.first : state.requestDeadlines.first, first.at <= now {
                    if idle { state.idleDeadlines.removeFirst() } else { state.requestDeadlines.removeFirst() }
                    guard state.held[first.descriptor]?.generation == first.generation else { continue }
                    state.held[first.descriptor] = nil
                    expired.append(first.descriptor)
                }
            }
            heldCount.store(state.held.count, ordering: .relaxed)
            return expired
        }
        // Counted before the close, so that whoever sees the close sees the count.
        timedOut.add(expired.count, ordering: .relaxed)
        for descriptor in expired {
            poll.forget(descriptor)
            Glibc.close(descriptor)
        }
    }

    /// Takes `descriptor` out of the table and closes it, if it was there; a connection closed for
    /// what it sent is counted (and reported) before the close.
    private func release(_ descriptor: Int32, invalidBecause reason: String? = nil) {
        let removed = state.withLock { state -> Bool in
            let removed = state.held.removeValue(forKey: descriptor) != nil
            heldCount.store(state.held.count, ordering: .relaxed)
            return removed
        }
        guard removed else { return }
        if let reason { recordInvalid(reason) }
        poll.forget(descriptor)
        Glibc.close(descriptor)
    }

    /// What a connection has sent so far, looked at without reading it.
    enum Peek: Equatable {
        case complete
        /// Nothing since its last request.
        case nothing
        /// Part of a request.
        case partial
        /// The peer hung up (or the connection failed) before sending a whole request.
        case closed
        case invalid(String)
    }

    /// Looks at what `descriptor` has buffered (MSG_PEEK, without waiting).
    static func peek(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Peek {
        let count = recv(descriptor, buffer.baseAddress, buffer.count, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT))
        if count == 0 { return .closed }
        if count < 0 {
            let code = errno
            return code == EAGAIN || code == EWOULDBLOCK || code == EINTR ? .nothing : .closed
        }
        switch FastCGIRequestScan.scan(UnsafeRawBufferPointer(rebasing: buffer[..<count])) {
        case .complete: return .complete
        case .incomplete: return .partial
        case .invalid(let reason): return .invalid(reason)
        }
    }
}
