import Dispatch
import Synchronization

/// A thread that runs its body every `interval` seconds until it is stopped: a heartbeat, a
/// sweep. Its owner stops it; `stop()` returns once the last round has ended, and no round
/// starts after that.
public final class PeriodicThread: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)

    /// Starts a thread named `name` that runs `body` at once and then every `interval` seconds.
    public init(name: String, interval: Double, _ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
        let nanoseconds = Int(max(0, interval) * 1e9)
        try PlatformThread.startDetached(name: name) { [self] in
            while !stopping.load(ordering: .acquiring) {
                body()
                _ = wake.wait(timeout: .now() + .nanoseconds(nanoseconds))
            }
            ended.signal()
        }
    }

    /// Stops the loop and waits for its round in progress to end. Only the first call waits;
    /// the others return at once.
    public func stop() {
        guard stopping.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        wake.signal()
        ended.wait()
    }
}
