import Foundation
import Synchronization

/// Hands every sample to every connected dashboard. A slow dashboard loses old samples (it keeps
/// the newest few) rather than slowing the others or the sampler.
public final class SampleBroadcaster: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<String>.Continuation]>([:])
    private let newest = Mutex<String?>(nil)

    /// Creates a broadcaster with no subscribers.
    public init() {}

    /// How many dashboards are connected.
    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// A stream of the samples published from now on, as JSON text.
    public func subscribe() -> AsyncStream<String> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(8))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    /// The newest sample, for `GET /sample` (another host's monitor reads it).
    public var latest: String? { newest.withLock { $0 } }

    /// Sends `text` to every subscriber.
    public func publish(_ text: String) {
        newest.withLock { $0 = text }
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(text) }
    }
}
