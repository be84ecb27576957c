/// What the queue predicts for a new job: read from the counts and the running slots alone, so
/// that a prediction costs O(slots) however long the queue is.
extension SlotQueue {
    /// The service-time estimate as stored, or a harmless one if something wrote nonsense there.
    var estimate: ServiceTimeEstimate {
        let unit = storage.unitSeconds
        return ServiceTimeEstimate(unitSeconds: unit.isFinite && unit > 0 && unit < 1 ? unit : 1e-4)
    }

    /// The prediction for a new job of class `cost` (bcrypt's cost, or an argon2id class), and that job's estimated service time: what every
    /// admission decision reads, from the counts and the running slots alone.
    ///
    /// With batches, the waiting jobs of each process and cost drain in batches of
    /// ``AdmissionPolicy/lanes`` (the last one partial: a batch never mixes processes), and a new
    /// job that will wait is priced as a member of a full batch that starts after them all: it
    /// may be held up by the jobs that join it.
    func predict(cost: Int, now: Double) -> (AdmissionPredictor.Prediction, service: Double) {
        let estimate = self.estimate
        // Memory that fits fewer argon2id jobs than there are slots narrows the queue to that many.
        let slots = max(1, min(storage.slots, Storage.maximumSlots))
        let width = max(1, min(slots, memoryBoundSlots(newClass: cost) ?? Int.max))
        let predictor = AdmissionPredictor(slots: width, estimate: estimate)
        let running = min(storage.runningCount, Storage.maximumSlots)
        let lanes = policy.lanes
        var queuedUnits = 0
        var queuedWork = 0.0
        // `count` jobs of one process at `cost`: full batches, and the last one partial.
        func addBatches(of count: Int, cost: Int) {
            let (full, rest) = count.quotientAndRemainder(dividingBy: lanes)
            queuedUnits += full + (rest > 0 ? 1 : 0)
            queuedWork += Double(full) * batchSeconds(lanes: lanes, cost: cost)
            if rest > 0 { queuedWork += batchSeconds(lanes: rest, cost: cost) }
        }
        let newcomerBatches = lanes > 1 && !Self.isArgon2(cost)
        if storage.queuedCount > 0 {
            for cost in 0..<Storage.costClasses {
                let count = storage.queuedCount(atCost: cost)
                guard count > 0 else { continue }
                guard lanes > 1, !Self.isArgon2(cost) else {
                    // argon2id jobs run alone: each is its own unit.
                    queuedUnits += count
                    queuedWork += Double(count) * seconds(forClass: cost)
                    continue
                }
                // Bounded by the buckets, whatever the queue's length.
                var counted = 0
                for bucket in 0..<Storage.processBuckets where counted < count {
                    let ofProcess = min(storage.queuedCount(atCost: cost, process: bucket), count - counted)
                    guard ofProcess > 0 else { continue }
                    counted += ofProcess
                    addBatches(of: ofProcess, cost: cost)
                }
                // Counts that disagree (a segment some other writer left so): the rest as one process's.
                if counted < count { addBatches(of: count - counted, cost: cost) }
            }
        }
        let freeWidth = max(slots, running)
        // A newcomer that waits will lead or join a batch, which forms only if it would end in
        // time running ``batchMargin`` long: it is priced so, or a queue admitted up to the
        // headroom would leave its leaders too late for full batches, and throughput would fall
        // as the overload grew.
        let service =
            newcomerBatches
            ? batchSeconds(lanes: lanes, cost: cost) * Self.batchMargin : batchSeconds(lanes: 1, cost: cost)
        let prediction = withUnsafeTemporaryAllocation(of: Double.self, capacity: freeWidth) { buffer in
            var allFreeAt = buffer
            var filled = 0
            for index in 0..<Storage.maximumSlots where filled < running {
                let entry = storage[running: index]
                guard entry.ticket != 0 else { continue }
                allFreeAt[filled] = max(0, batchSeconds(lanes: entry.lanes, cost: entry.cost) - (now - entry.startedAt))
                filled += 1
            }
            for index in filled..<freeWidth { allFreeAt[index] = 0 }
            // Narrowed by memory: the slots that free last are the ones the queue may use.
            var freeAt = allFreeAt
            if width < slots {
                allFreeAt.sort()
                freeAt = UnsafeMutableBufferPointer(rebasing: allFreeAt[(freeWidth - width)...])
            }
            let alone = predictor.predict(
                freeAt: freeAt, queuedCount: queuedUnits, queuedWork: queuedWork, newCost: cost,
                newService: seconds(forClass: cost))
            // A job that starts at once runs alone: nobody waits to join it.
            guard newcomerBatches, alone.startsIn > 0 || queuedUnits > 0 else { return alone }
            return predictor.predict(
                freeAt: freeAt, queuedCount: queuedUnits, queuedWork: queuedWork, newCost: cost, newService: service)
        }
        return (prediction, prediction.startsIn > 0 || queuedUnits > 0 ? service : seconds(forClass: cost))
    }
}
