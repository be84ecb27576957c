import CSharedState

/// What happened, counted: the counters, histograms, recent waits and per-worker figures that
/// ``SlotQueueStorage/record(_:)`` feeds.
extension SegmentView {
    func record(_ event: QueueEvent) {
        switch event {
        case .admitted:
            shared.pointee.admitted &+= 1
        case .refusedAtOnce(let pid, let late, let paced, let overShare):
            shared.pointee.refused_at_once &+= 1
            if late { shared.pointee.late_arrivals &+= 1 }
            if paced { shared.pointee.paced_refusals &+= 1 }
            if overShare { shared.pointee.refused_over_share &+= 1 }
            countRefusal(pid: pid)
        case .displaced(let pid):
            shared.pointee.displaced &+= 1
            countRefusal(pid: pid)
        case .keyOverflowed:
            shared.pointee.key_overflows &+= 1
        case .refusedAtDeadline(let pid):
            shared.pointee.refused_at_deadline &+= 1
            countRefusal(pid: pid)
        case .granted(let at, let wait):
            Self.record(&shared.pointee.queue_wait, seconds: wait)
            recordRecentWait(at: at, wait: wait)
        case .ended(let pid, let outcome, let serviceSeconds, let responseSeconds):
            switch outcome {
            case .delivered: shared.pointee.completed &+= 1
            case .failed: shared.pointee.failed &+= 1
            case .overran: shared.pointee.overran &+= 1
            }
            Self.record(&shared.pointee.service_time, seconds: serviceSeconds)
            if let responseSeconds { Self.record(&shared.pointee.response_time, seconds: responseSeconds) }
            countCompletion(pid: pid)
        case .ranUnadmitted(let pid, let delivered, let waitSeconds, let serviceSeconds, let at):
            if delivered { shared.pointee.completed &+= 1 } else { shared.pointee.failed &+= 1 }
            Self.record(&shared.pointee.queue_wait, seconds: waitSeconds)
            Self.record(&shared.pointee.service_time, seconds: serviceSeconds)
            Self.record(&shared.pointee.response_time, seconds: waitSeconds + serviceSeconds)
            recordRecentWait(at: at, wait: waitSeconds)
            countCompletion(pid: pid)
        case .argon2Delivered:
            shared.pointee.completed_argon2 &+= 1
        case .recovered(let jobs):
            shared.pointee.recovered_jobs &+= UInt64(jobs)
        }
    }

    private static func record(_ histogram: inout fl_histogram, seconds: Double) {
        let nanoseconds = Int64(max(0, min(seconds, 1e6)) * 1e9)
        fl_histogram_count(&histogram, UInt32(LatencyBuckets.index(forSeconds: seconds))).pointee &+= 1
        histogram.total &+= 1
        histogram.sum_ns &+= nanoseconds
        histogram.max_ns = max(histogram.max_ns, nanoseconds)
    }

    private func recordRecentWait(at: Double, wait: Double) {
        fl_segment_recent_wait(shared, shared.pointee.recent_next).pointee = fl_recent_wait(
            at_ns: Self.nanoseconds(at), wait_ns: Self.nanoseconds(wait))
        shared.pointee.recent_next &+= 1
    }

    private func countRefusal(pid: Int32) {
        if let index = workerIndex(pid: pid) { fl_segment_worker(shared, UInt32(index)).pointee.jobs_refused &+= 1 }
    }

    private func countCompletion(pid: Int32) {
        if let index = workerIndex(pid: pid) { fl_segment_worker(shared, UInt32(index)).pointee.jobs_completed &+= 1 }
    }
}
