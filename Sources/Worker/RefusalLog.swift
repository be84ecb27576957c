import Logging
import POSIXSupport
import Synchronization

/// Logs refusals with their predicted completion, at most one line a second.
///
/// An overloaded host refuses thousands of requests a second; a line for each would make the
/// log the load. Each line counts the refusals since the last one and carries the latest
/// prediction, which is what an operator tuning N or slots needs.
final class RefusalLog: Sendable {
    private struct Pending {
        var refusals = 0
        var lastLineAt = -Double.infinity
    }

    /// Why a request was refused.
    enum Reason: String {
        /// At arrival: predicted to finish after N.
        case predicted
        /// While queued: it could no longer start in time.
        case atDeadline = "at_deadline"
        /// While running: the machine was slower than predicted; answered at N.
        case overran
        /// While queued: a client under its fair share took its place.
        case displaced
    }

    private let log: Logger
    private let interval: Double
    private let pending = Mutex(Pending())

    init(log: Logger, interval: Double = 1) {
        self.log = log
        self.interval = interval
    }

    /// Counts one refusal; writes a line when the last one is `interval` old.
    func record(_ reason: Reason, predictedSeconds: Double, deadline: Double, now: Double = MonotonicClock.now) {
        guard let refusals = countOne(now: now) else { return }
        log.info(
            "refused",
            metadata: [
                "refusals": .stringConvertible(refusals), "predicted_seconds": .stringConvertible(predictedSeconds),
                "deadline": .stringConvertible(deadline), "reason": "\(reason.rawValue)",
            ])
    }

    /// Counts one connection closed unanswered because its peer is not the front; writes a line
    /// when the last one is `interval` old.
    func recordForeignPeer(_ peer: String, now: Double = MonotonicClock.now) {
        guard let refusals = countOne(now: now) else { return }
        log.warning("peer_refused", metadata: ["peer": "\(peer)", "connections": .stringConvertible(refusals)])
    }

    /// Counts one connection closed unanswered because what it sent is not a FastCGI responder
    /// request; writes a line when the last one is `interval` old.
    func recordInvalidRequest(_ reason: String, now: Double = MonotonicClock.now) {
        guard let refusals = countOne(now: now) else { return }
        log.warning(
            "invalid_fastcgi_request", metadata: ["reason": "\(reason)", "connections": .stringConvertible(refusals)])
    }

    private func countOne(now: Double) -> Int? {
        pending.withLock { state in
            state.refusals += 1
            guard now - state.lastLineAt >= interval else { return nil }
            defer { state = Pending(refusals: 0, lastLineAt: now) }
            return state.refusals
        }
    }
}
