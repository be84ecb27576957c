import CSharedState

/// The queue's counters, as a snapshot reports them.
struct QueueCounters: Equatable, Sendable {
    var admitted: UInt64
    var refusedAtOnce: UInt64
    var refusedAtDeadline: UInt64
    var completed: UInt64
    var failed: UInt64
    var overran: UInt64
    var recoveredJobs: UInt64
    var pacedRefusals: UInt64
    var lateArrivals: UInt64
    var refusedOverShare: UInt64
    var displaced: UInt64
    var keyOverflows: UInt64
    /// Of `completed`, the argon2id jobs.
    var completedArgon2: UInt64
}

extension SegmentView {
    /// The segment's latency histograms.
    enum HistogramKind {
        /// Admission to slot, for jobs that got one.
        case queueWait
        /// Slot held.
        case serviceTime
        /// Arrival to answer, for jobs answered with their result.
        case responseTime
    }

    var counters: QueueCounters {
        // Field by field: a copy of the whole segment would be hundreds of kilobytes on the stack.
        QueueCounters(
            admitted: shared.pointee.admitted, refusedAtOnce: shared.pointee.refused_at_once,
            refusedAtDeadline: shared.pointee.refused_at_deadline, completed: shared.pointee.completed,
            failed: shared.pointee.failed, overran: shared.pointee.overran,
            recoveredJobs: shared.pointee.recovered_jobs, pacedRefusals: shared.pointee.paced_refusals,
            lateArrivals: shared.pointee.late_arrivals, refusedOverShare: shared.pointee.refused_over_share,
            displaced: shared.pointee.displaced, keyOverflows: shared.pointee.key_overflows,
            completedArgon2: shared.pointee.completed_argon2)
    }

    func histogram(_ kind: HistogramKind) -> AdmissionSnapshot.Histogram {
        switch kind {
        case .queueWait: Self.histogram(&shared.pointee.queue_wait)
        case .serviceTime: Self.histogram(&shared.pointee.service_time)
        case .responseTime: Self.histogram(&shared.pointee.response_time)
        }
    }

    private static func histogram(_ histogram: inout fl_histogram) -> AdmissionSnapshot.Histogram {
        AdmissionSnapshot.Histogram(
            counts: (0..<FL_HISTOGRAM_BUCKETS).map { fl_histogram_count(&histogram, $0).pointee },
            total: histogram.total, sumSeconds: seconds(histogram.sum_ns), maxSeconds: seconds(histogram.max_ns))
    }

    /// The queue waits of the latest jobs to get a slot, oldest first: (seconds before `now`, wait).
    func recentWaits(now: Double) -> [(age: Double, wait: Double)] {
        let written = Int(clamping: shared.pointee.recent_next)
        return (max(0, written - Int(FL_RECENT_WAITS))..<written).map { position in
            let recent = fl_segment_recent_wait(shared, UInt32(truncatingIfNeeded: position)).pointee
            return (now - Self.seconds(recent.at_ns), Self.seconds(recent.wait_ns))
        }
    }
}
