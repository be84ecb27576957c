import JSONWriting

/// A sample as the dashboard and the peers read it: snake_case keys in alphabetical order, an
/// absent optional left out. Written here with the service's one JSON renderer; read back (a
/// peer's sample) with `Codable` and `convertFromSnakeCase`, which a round-trip test holds to it.
extension MonitorSample {
    /// The sample as a JSON document.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("architecture", .string(architecture)),
            ("cpu", .object([("cores", .array(cpu.cores.map(JSONValue.double))), ("total", .double(cpu.total))])),
        ]
        if let fairShare { members.append(("fair_share", fairShare.json)) }
        members += [
            ("host", .string(host)),
            ("hosts", .array(hosts.map(\.json))),
        ]
        if let queue { members.append(("queue", queue.json)) }
        members += [
            (
                "responsiveness",
                .object(responsiveness.pingMilliseconds.map { [("ping_milliseconds", .double($0))] } ?? [])
            ),
            (
                "throughput",
                .object([
                    ("argon2id_per_second", .double(throughput.argon2idPerSecond)),
                    ("hashes_per_second", .double(throughput.hashesPerSecond)),
                    ("pings_per_second", .double(throughput.pingsPerSecond)),
                    ("refusals_per_second", .double(throughput.refusalsPerSecond)),
                ])
            ),
            ("time", .double(time)),
            ("wait", wait.json),
            ("workers", .array(workers.map(\.json))),
        ]
        return .object(members)
    }
}

extension MonitorSample.Wait {
    fileprivate var json: JSONValue {
        var members: [(String, JSONValue)] = [("jobs", .int(jobs))]
        if let maxMilliseconds { members.append(("max_milliseconds", .double(maxMilliseconds))) }
        if let p50Milliseconds { members.append(("p50_milliseconds", .double(p50Milliseconds))) }
        if let p95Milliseconds { members.append(("p95_milliseconds", .double(p95Milliseconds))) }
        return .object(members)
    }
}

extension MonitorSample.Queue {
    fileprivate var json: JSONValue {
        .object([
            ("capacity_per_second", .double(capacityPerSecond)), ("deadline_seconds", .double(deadlineSeconds)),
            ("hash_memory_budget", .double(hashMemoryBudget)), ("hash_memory_in_use", .double(hashMemoryInUse)),
            ("lanes", .int(lanes)), ("predicted_seconds", .double(predictedSeconds)), ("queued", .int(queued)),
            ("running", .int(running)), ("slots", .int(slots)),
        ])
    }
}

extension MonitorSample.Worker {
    fileprivate var json: JSONValue {
        .object([
            ("jobs", .int(Int(clamping: jobs))), ("pid", .int(Int(pid))), ("pings", .int(Int(clamping: pings))),
            ("refused", .int(Int(clamping: refused))), ("restarts", .int(Int(restarts))), ("state", .string(state)),
            ("uptime_seconds", .double(uptimeSeconds)),
        ])
    }
}

extension MonitorSample.Host {
    fileprivate var json: JSONValue {
        .object([
            ("cpu_total", .double(cpuTotal)), ("hashes_per_second", .double(hashesPerSecond)), ("name", .string(name)),
            ("queued", .int(queued)), ("reachable", .bool(reachable)),
            ("refusals_per_second", .double(refusalsPerSecond)),
            ("running", .int(running)), ("slots", .int(slots)), ("workers", .int(workers)),
        ])
    }
}

extension MonitorSample.FairShare {
    fileprivate var json: JSONValue {
        .object([
            ("active_clients", .int(activeClients)), ("active_groups", .int(activeGroups)),
            (
                "refusals",
                .object([
                    ("at_capacity", .double(refusals.atCapacity)), ("displaced", .double(refusals.displaced)),
                    ("late", .double(refusals.late)), ("over_share", .double(refusals.overShare)),
                ])
            ),
            (
                "top",
                .array(
                    top.map {
                        .object([
                            ("admitted", .int(Int(clamping: $0.admitted))), ("client", .string($0.client)),
                            ("displaced", .int(Int(clamping: $0.displaced))), ("queued", .int($0.queued)),
                            ("refused_over_share", .int(Int(clamping: $0.refusedOverShare))),
                            ("running", .int($0.running)), ("share", .double($0.share)),
                        ])
                    })
            ),
            ("tracked_keys", .int(trackedKeys)),
        ])
    }
}
