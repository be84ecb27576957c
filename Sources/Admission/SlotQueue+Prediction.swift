/// What the queue predicts for a new job: read from the counts and the running slots alone, so
/// that a prediction costs O(slots) however long the queue is.
extension SlotQueue {
    /// The service-time estimate as stored, or a harmless one if something wrote nonsense there.
    var estimate: ServiceTimeEstimate {
        let unit = storage.unitSeconds
        return ServiceTimeEstimate(unitSeconds: unit.isFinite && unit > 0 && unit < 1 ? unit : 1e-4)
    }

    /// The prediction for a new job at `cost`, and that job's estimated service time: what every
    /// admission decision reads, from the counts and the running slots alone.
    func predict(cost: Int, now: Double) -> (AdmissionPredictor.Prediction, service: Double) {
        let estimate = self.estimate
        let predictor = AdmissionPredictor(slots: min(storage.slots, Storage.maximumSlots), estimate: estimate)
        let running = min(storage.runningCount, Storage.maximumSlots)
        var queuedCount = 0
        var queuedWork = 0.0
        if storage.queuedCount > 0 {
            for cost in 0..<Storage.costClasses {
                let count = storage.queuedCount(atCost: cost)
                guard count > 0 else { continue }
                queuedCount += count
                queuedWork += Double(count) * estimate.seconds(forCost: cost)
            }
        }
        let width = max(predictor.slots, running)
        let prediction = withUnsafeTemporaryAllocation(of: Double.self, capacity: width) { freeAt in
            var filled = 0
            for index in 0..<Storage.maximumSlots where filled < running {
                let entry = storage[running: index]
                guard entry.ticket != 0 else { continue }
                freeAt[filled] = max(0, estimate.seconds(forCost: entry.cost) - (now - entry.startedAt))
                filled += 1
            }
            for index in filled..<width { freeAt[index] = 0 }
            return predictor.predict(freeAt: freeAt, queuedCount: queuedCount, queuedWork: queuedWork, newCost: cost)
        }
        return (prediction, estimate.seconds(forCost: cost))
    }
}
