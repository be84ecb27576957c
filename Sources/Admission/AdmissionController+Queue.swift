import CSharedState

/// The queue's bookkeeping in the segment, all under the lock: what a job entering, taking a
/// slot, leaving or ending changes. Each keeps the counts that decisions read (running, waiting,
/// waiting per cost) so that none has to walk the ring.
extension AdmissionController {
    /// The prediction for a new job at `cost`, straight from the segment, allocating nothing:
    /// what every admission decision reads. Also returns the job's estimated service time.
    static func predict(_ shared: inout fl_segment, cost: Int, now: Double) -> (
        AdmissionPredictor.Prediction, service: Double
    ) {
        let estimate = ServiceTimeEstimate(unitSeconds: sanitisedUnit(shared.unit_seconds))
        let predictor = AdmissionPredictor(slots: Int(min(shared.slots, FL_MAX_SLOTS)), estimate: estimate)
        let running = Int(min(shared.running_count, FL_MAX_SLOTS))
        var queuedCount = 0
        var queuedWork = 0.0
        if shared.queued_count > 0 {
            for cost in 0..<FL_COST_CLASSES {
                let count = Int(fl_segment_queued_by_cost(&shared, cost).pointee)
                guard count > 0 else { continue }
                queuedCount += count
                queuedWork += Double(count) * estimate.seconds(forCost: Int(cost))
            }
        }
        let width = max(predictor.slots, running)
        let prediction = withUnsafeTemporaryAllocation(of: Double.self, capacity: width) { freeAt in
            var filled = 0
            for index in 0..<FL_MAX_SLOTS where filled < running {
                let entry = fl_segment_running(&shared, index).pointee
                guard entry.ticket != 0 else { continue }
                let elapsed = now - Double(entry.started_ns) / 1e9
                freeAt[filled] = max(0, estimate.seconds(forCost: Int(entry.cost)) - elapsed)
                filled += 1
            }
            for index in filled..<width { freeAt[index] = 0 }
            return predictor.predict(
                freeAt: freeAt, queuedCount: queuedCount, queuedWork: queuedWork, newCost: cost)
        }
        return (prediction, estimate.seconds(forCost: cost))
    }

    /// The estimate as stored, or a harmless value if something wrote nonsense there.
    static func sanitisedUnit(_ unit: Double) -> Double {
        unit.isFinite && unit > 0 && unit < 1 ? unit : 1e-4
    }

    /// Hands free slots to waiting jobs in ticket order; their tickets go to `woken`.
    static func grantWaiting(_ shared: inout fl_segment, now: Double, woken: inout WakeList) {
        while shared.running_count < shared.slots, shared.grant_ticket < shared.next_ticket {
            let ticket = shared.grant_ticket
            let job = fl_segment_job(&shared, ticket)
            shared.grant_ticket += 1
            // A job that already left (refused at its deadline, or swept) is passed over.
            guard job.pointee.ticket == ticket, job.pointee.state == FL_JOB_QUEUED.rawValue else { continue }
            guard let slot = (0..<FL_MAX_SLOTS).first(where: { fl_segment_running(&shared, $0).pointee.ticket == 0 })
            else {
                shared.grant_ticket -= 1
                return
            }
            fl_segment_running(&shared, slot).pointee = fl_running(
                ticket: ticket, cost: job.pointee.cost, pid: job.pointee.pid, started_ns: nanoseconds(now))
            leaveQueue(&shared, job)
            job.pointee.state = FL_JOB_RUNNING.rawValue
            job.pointee.running_slot = slot
            job.pointee.started_ns = nanoseconds(now)
            fl_store_release(&job.pointee.granted, 1)
            shared.running_count += 1
            let wait = now - Double(job.pointee.admitted_ns) / 1e9
            record(&shared.queue_wait, seconds: wait)
            recordRecentWait(&shared, at: now, wait: wait)
            woken.append(ticket)
        }
    }

    /// Takes a waiting job out of the counts (it got a slot, or is leaving for good).
    static func leaveQueue(_ shared: inout fl_segment, _ job: UnsafeMutablePointer<fl_job>) {
        guard job.pointee.state == FL_JOB_QUEUED.rawValue else { return }
        job.pointee.state = FL_JOB_FREE.rawValue
        if shared.queued_count > 0 { shared.queued_count -= 1 }
        let count = fl_segment_queued_by_cost(&shared, job.pointee.cost)
        if count.pointee > 0 { count.pointee -= 1 }
    }

    /// Frees a running job's slot (the caller hands it on with ``grantWaiting``).
    static func release(_ shared: inout fl_segment, _ job: UnsafeMutablePointer<fl_job>) {
        guard job.pointee.state == FL_JOB_RUNNING.rawValue else { return }
        let slot = fl_segment_running(&shared, job.pointee.running_slot % FL_MAX_SLOTS)
        if slot.pointee.ticket == job.pointee.ticket {
            slot.pointee.ticket = 0
            if shared.running_count > 0 { shared.running_count -= 1 }
        }
        job.pointee.state = FL_JOB_FREE.rawValue
    }

    static func record(_ histogram: inout fl_histogram, seconds: Double) {
        let nanoseconds = Int64(max(0, min(seconds, 1e6)) * 1e9)
        fl_histogram_count(&histogram, UInt32(LatencyBuckets.index(forSeconds: seconds))).pointee &+= 1
        histogram.total &+= 1
        histogram.sum_ns &+= nanoseconds
        histogram.max_ns = max(histogram.max_ns, nanoseconds)
    }

    static func recordRecentWait(_ shared: inout fl_segment, at: Double, wait: Double) {
        fl_segment_recent_wait(&shared, shared.recent_next).pointee = fl_recent_wait(
            at_ns: nanoseconds(at), wait_ns: nanoseconds(wait))
        shared.recent_next &+= 1
    }

    static func countRefusal(_ shared: inout fl_segment, pid: Int32) {
        if let worker = workerEntry(&shared, pid: pid) { worker.pointee.jobs_refused &+= 1 }
    }

    static func workerEntry(_ shared: inout fl_segment, pid: Int32) -> UnsafeMutablePointer<fl_worker>? {
        for index in 0..<FL_MAX_WORKERS {
            let entry = fl_segment_worker(&shared, index)
            if entry.pointee.state != FL_WORKER_EMPTY.rawValue && entry.pointee.pid == pid { return entry }
        }
        return nil
    }

    static func nanoseconds(_ seconds: Double) -> Int64 {
        seconds.isFinite ? Int64(max(-9e9, min(seconds, 9e9)) * 1e9) : 0
    }
}
