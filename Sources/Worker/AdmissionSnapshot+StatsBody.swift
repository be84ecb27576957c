import Admission
import JSONWriting

/// `/api/stats`: the wire format of a snapshot of the host's queue (fields documented in
/// Docs/stats.md), kept here, in the layer that serves it, not in Admission.
extension AdmissionSnapshot {
    /// The snapshot as the JSON body of `/api/stats`.
    var statsBody: JSONValue {
        .object([
            ("version", .int(Int(version))),
            ("slots", .int(slots)),
            ("deadline_seconds", .double(deadlineSeconds)),
            ("queued", .int(queued)),
            ("running", .int(running)),
            (
                "estimate",
                .object([
                    ("unit_seconds", .double(unitSeconds)), ("cost", .int(predictionCost)),
                    ("seconds", .double(estimateSeconds(cost: predictionCost))),
                    ("samples", .int(Int(estimateSamples))),
                ])
            ),
            (
                "batches",
                .object([
                    ("lanes", .int(lanes)), ("factor", .double(batchFactor)), ("samples", .int(batchSamples)),
                    ("capacity_per_second", .double(capacityPerSecond(cost: predictionCost))),
                ])
            ),
            (
                "argon2id",
                .object([
                    ("unit_seconds", .double(argon2UnitSeconds)), ("samples", .int(Int(argon2Samples))),
                    (
                        "classes",
                        .array(
                            argon2Classes.map {
                                .object([
                                    ("memory_kib", .int($0.memoryKiB)), ("passes", .int($0.passes)),
                                    ("seconds", .double(argon2UnitSeconds * Double($0.memoryKiB) * Double($0.passes))),
                                    ("queued", .int($0.queued)),
                                ])
                            })
                    ),
                ])
            ),
            ("memory", .object([("budget_kib", .int(memoryBudgetKiB)), ("in_use_kib", .int(memoryInUseKiB))])),
            (
                "completed_by_algorithm",
                .object([
                    ("bcrypt", .int(Int(completed - completedArgon2))), ("argon2id", .int(Int(completedArgon2))),
                ])
            ),
            ("predicted_completion_seconds", .double(predictedCompletion)),
            ("counters", .object(counterMembers)),
            ("fair_share", fairShareBody),
            (
                "histogram_bounds_ms",
                .array(LatencyBuckets.boundsMilliseconds.map { $0.isFinite ? .int(Int($0)) : .null })
            ),
            ("queue_wait", Self.body(of: queueWait)),
            ("service_time", Self.body(of: serviceTime)),
            ("response_time", Self.body(of: responseTime)),
            ("workers", .array(workers.map(Self.body(of:)))),
        ])
    }

    private var counterMembers: [(String, JSONValue)] {
        [
            ("admitted", admitted), ("refused_at_once", refusedAtOnce), ("refused_at_deadline", refusedAtDeadline),
            ("completed", completed), ("failed", failed), ("overran", overran), ("recovered_jobs", recoveredJobs),
            ("paced_refusals", pacedRefusals), ("late_arrivals", lateArrivals),
            ("refused_at_capacity", refusedAtCapacity),
            ("refused_over_share", refusedOverShare), ("displaced", displaced), ("key_overflows", keyOverflows),
        ].map { ($0.0, .int(Int(clamping: $0.1))) }
    }

    private var fairShareBody: JSONValue {
        var members: [(String, JSONValue)] = [
            ("active_groups", .int(fairShare.activeGroups)), ("active_clients", .int(fairShare.activeClients)),
            ("tracked_keys", .int(fairShare.trackedKeys)), ("top", .array(fairShare.top.map(Self.body(of:)))),
        ]
        if let overflow = fairShare.overflow { members.append(("overflow", Self.body(of: overflow))) }
        return .object(members)
    }

    private static func body(of client: FairShare.Client) -> JSONValue {
        .object([
            ("client", .string(client.label)), ("share", .double(client.share)),
            ("served_seconds", .double(client.servedSeconds)),
            ("recent_work_seconds", .double(client.recentWorkSeconds)),
            ("queued", .int(client.queued)), ("running", .int(client.running)),
            ("admitted", .int(Int(clamping: client.admitted))),
            ("refused_at_capacity", .int(Int(clamping: client.refusedAtCapacity))),
            ("refused_over_share", .int(Int(clamping: client.refusedOverShare))),
            ("displaced", .int(Int(clamping: client.displaced))),
        ])
    }

    private static func body(of histogram: Histogram) -> JSONValue {
        .object([
            ("counts", .array(histogram.counts.map { .int(Int(clamping: $0)) })),
            ("total", .int(Int(clamping: histogram.total))), ("sum_seconds", .double(histogram.sumSeconds)),
            ("max_seconds", .double(histogram.maxSeconds)),
        ])
    }

    private static func body(of worker: Worker) -> JSONValue {
        .object([
            ("pid", .int(Int(worker.pid))), ("state", .string(worker.state)),
            ("uptime_seconds", .double(worker.uptimeSeconds)),
            ("heartbeat_age_seconds", .double(worker.heartbeatAgeSeconds)),
            ("jobs_completed", .int(Int(clamping: worker.jobsCompleted))),
            ("jobs_refused", .int(Int(clamping: worker.jobsRefused))), ("restarts", .int(Int(worker.restarts))),
            ("pings", .int(Int(clamping: worker.pings))),
        ])
    }
}
