import Foundation
import Synchronization

/// Runs `count` copies of `body` on threads of their own and waits for all of them:
/// `DispatchQueue.concurrentPerform` would run only one per core.
public func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            body(index)
            group.leave()
        }.start()
    }
    group.wait()
}

/// A lock-protected counter that remembers its highest value, for tests that count overlap.
public final class ConcurrencyCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    private var highest = 0
    private var total = 0

    /// Creates a counter at zero.
    public init() {}

    /// Counts one more inside; returns how many are inside now.
    @discardableResult
    public func enter() -> Int {
        lock.withLock {
            current += 1
            total += 1
            highest = max(highest, current)
            return current
        }
    }

    /// Counts one fewer inside.
    public func leave() { lock.withLock { current -= 1 } }

    /// The most that were inside at once.
    public var peak: Int { lock.withLock { highest } }

    /// How many entered in all.
    public var count: Int { lock.withLock { total } }
}

/// A flag one thread raises and others poll, e.g. to end a load loop early.
public final class StopFlag: Sendable {
    private let raised = Mutex(false)

    /// Creates a lowered flag.
    public init() {}

    /// Raises the flag.
    public func raise() { raised.withLock { $0 = true } }

    /// Whether the flag is raised.
    public var isRaised: Bool { raised.withLock { $0 } }
}
