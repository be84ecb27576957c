// Longer than most files: one command: its options, the client processes it forks, and the report they add up to.
import Admission
import ArgumentParser
import Foundation
import JSONWriting
import POSIXSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `fullyloaded admission-bench`: what admission itself costs, through the real
/// `AdmissionController` on a real segment, with jobs that sleep instead of hashing.
///
/// Processes × threads clients each loop admit → wait for a slot → sleep `--job-seconds` →
/// finish, with `--queued` more clients than slots, so that that many always wait, spread over
/// `--keys` clients of the fair share (each its own group). Then, for a baseline, as many
/// threads as slots only sleep. Prints one JSON object: completed jobs, CPU
/// per job beyond the baseline's (what admission costs) and voluntary context switches per job
/// beyond the job's own sleep (the wake-ups admission causes), each measured after a second of
/// warm-up.
struct AdmissionBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admission-bench",
        abstract: "Measure admission's CPU and wake-ups per job with jobs that sleep (Deploy/bench/admission.sh).",
        shouldDisplay: false
    )

    @Option(help: "Compute slots.")
    var slots = 64

    @Option(help: "Jobs waiting at all times, beyond those holding a slot.")
    var queued = 10

    @Option(help: "Client processes sharing the segment.")
    var processes = 4

    @Option(help: "Fair-share clients the jobs come from (each its own group); 0: fairness off.")
    var keys = 1

    @Option(help: "Internal: the first key of this client process's threads.")
    var firstKey = 0

    @Option(help: "Seconds each job holds its slot (a sleep).")
    var jobSeconds = 0.02

    @Option(help: "Seconds to measure, after a second of warm-up.")
    var seconds = 5.0

    @Option(help: "Internal: run as one client process on this segment with this many threads.")
    var child: String?

    @Option(help: "Internal: threads of a client process.")
    var threads = 1

    @Flag(help: "Internal: the client threads only sleep, with no admission (the baseline).")
    var baseline = false

    func run() throws {
        if let child { return try runClient(segmentPath: child) }
        // A private directory on tmpfs, as the workers' is.
        var template = Array("/dev/shm/fl-admission-bench.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemCallError(call: "mkdtemp", errno: errno) }
        let directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { rmdir(directory) }
        let name = directory + "/segment"
        let segment = try SharedSegment(
            path: name, slots: slots, deadline: 3600, initialEstimate: ServiceTimeEstimate(unitSeconds: 1e-6),
            jobCapacity: 4 * (slots + queued))
        defer { SharedSegment.unlink(path: name) }
        _ = segment
        let measured = try runClients(segmentPath: name, clients: slots + queued, baseline: false)
        let base = try runClients(segmentPath: name, clients: slots, baseline: true)
        let perJob = measured.jobs > 0 ? measured.cpu / measured.jobs * 1e6 : 0
        let basePerJob = base.jobs > 0 ? base.cpu / base.jobs * 1e6 : 0
        let wakeups =
            measured.jobs > 0
            ? (measured.switches - base.switches / max(1, base.jobs) * measured.jobs) / measured.jobs : 0
        let inside = measured.jobs > 0 ? measured.admissionCPU / measured.jobs * 1e6 : 0
        let result = JSONText.object([
            ("slots", .int(slots)), ("queued", .int(queued)), ("processes", .int(processes)), ("keys", .int(keys)),
            ("jobs_per_second", .double(measured.jobs / seconds)),
            ("ideal_jobs_per_second", .double(Double(slots) / jobSeconds)),
            ("cpu_microseconds_per_job", .double(perJob)), ("baseline_cpu_microseconds_per_job", .double(basePerJob)),
            ("admission_cpu_microseconds_per_job", .double(inside)),
            ("cpu_beyond_baseline_microseconds_per_job", .double(max(0, perJob - basePerJob))),
            ("wakeups_per_job", .double(wakeups)),
        ])
        print(String(decoding: result, as: UTF8.self))
    }

    /// Runs `clients` client threads spread over the processes; their jobs, CPU and switches.
    private func runClients(segmentPath name: String, clients: Int, baseline: Bool) throws -> (
        jobs: Double, cpu: Double, switches: Double, admissionCPU: Double
    ) {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var children: [(Process, Pipe)] = []
        var nextKey = 0
        for index in 0..<processes {
            let share = clients / processes + (index < clients % processes ? 1 : 0)
            defer { nextKey += share }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments =
                [
                    "admission-bench", "--child", name, "--threads", "\(share)", "--job-seconds", "\(jobSeconds)",
                    "--seconds", "\(seconds)", "--slots", "\(slots)", "--keys", "\(keys)", "--first-key", "\(nextKey)",
                ] + (baseline ? ["--baseline"] : [])
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            children.append((process, pipe))
        }
        var total = (jobs: 0.0, cpu: 0.0, switches: 0.0, admissionCPU: 0.0)
        for (process, pipe) in children {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard let report = try JSONSerialization.jsonObject(with: data) as? [String: Double] else {
                throw ValidationError("a client process reported nothing")
            }
            total.jobs += report["jobs"] ?? 0
            total.cpu += report["cpu_seconds"] ?? 0
            total.switches += report["voluntary_switches"] ?? 0
            total.admissionCPU += report["admission_cpu_seconds"] ?? 0
        }
        return total
    }

    /// One client process: `threads` threads looping through admission; reports its own usage.
    private func runClient(segmentPath: String) throws {
        let segment = try SharedSegment(
            path: segmentPath, slots: slots, deadline: 3600, initialEstimate: ServiceTimeEstimate(unitSeconds: 1e-6))
        let controller = AdmissionController(
            segment: segment, policy: AdmissionPolicy(deadline: 3600, headroom: 1, fairness: keys > 0))
        let started = MonotonicClock.now
        let measureFrom = started + 1
        let end = measureFrom + seconds
        let counted = Atomic<Int>(0)
        // Thread CPU inside admission of the jobs counted, in nanoseconds.
        let inside = Atomic<Int>(0)
        let running = Atomic<Int>(threads)
        let sleep = UInt32(jobSeconds * 1e6)
        for index in 0..<threads {
            // Thread i of the whole run sends as key i mod --keys.
            let key = ClientKey(
                groupKind: .named, group: Array("bench-\((firstKey + index) % max(1, keys))".utf8))
            try PlatformThread.startDetached(name: "client-\(index)", stackSize: 128 * 1024) {
                while MonotonicClock.now < end {
                    if baseline {
                        usleep(sleep)
                        let now = MonotonicClock.now
                        if now >= measureFrom && now < end { counted.add(1, ordering: .relaxed) }
                        continue
                    }
                    let admitting = Self.threadCPUNanoseconds()
                    guard case .admitted(let ticket) = controller.admit(cost: 4, client: key) else {
                        usleep(1000)
                        continue
                    }
                    guard controller.waitForSlot(ticket) == .granted else { continue }
                    let granted = Self.threadCPUNanoseconds()
                    usleep(sleep)
                    let finishing = Self.threadCPUNanoseconds()
                    controller.finish(ticket, serviceSeconds: jobSeconds, outcome: .delivered)
                    let finished = Self.threadCPUNanoseconds()
                    let now = MonotonicClock.now
                    if now >= measureFrom && now < end {
                        counted.add(1, ordering: .relaxed)
                        inside.add(granted - admitting + finished - finishing, ordering: .relaxed)
                    }
                }
                running.subtract(1, ordering: .relaxed)
            }
        }
        while MonotonicClock.now < measureFrom { usleep(10_000) }
        let before = Self.usage()
        while MonotonicClock.now < end { usleep(10_000) }
        let after = Self.usage()
        let jobs = counted.load(ordering: .relaxed)
        // Threads still in a job finish it; the figures above are already taken.
        while running.load(ordering: .relaxed) > 0 { usleep(10_000) }
        let report = JSONText.object([
            ("jobs", .int(jobs)), ("cpu_seconds", .double(after.cpu - before.cpu)),
            ("admission_cpu_seconds", .double(Double(inside.load(ordering: .relaxed)) / 1e9)),
            ("voluntary_switches", .double(after.switches - before.switches)),
        ])
        print(String(decoding: report, as: UTF8.self))
    }

    /// The calling thread's CPU time, in nanoseconds.
    private static func threadCPUNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }

    /// This process's CPU seconds and voluntary context switches, all threads.
    private static func usage() -> (cpu: Double, switches: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        return (cpu, Double(usage.ru_nvcsw))
    }
}
