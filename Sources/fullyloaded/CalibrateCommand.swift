import Argon2
import ArgumentParser
import Bcrypt
import CommandLineOptions
import Dispatch
import JSONWriting
import POSIXSupport
import PasswordService
import ServiceDefaults
import Synchronization

/// `fullyloaded calibrate`: how long one bcrypt (or one batch of interleaved ones), or one
/// argon2id, takes on one core of this machine.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Time single hashes (bcrypt, or argon2id) on one thread and print the figures as JSON."
    )

    @Option(help: "bcrypt cost to time (\(FlagRange.cost.text)).")
    var cost = HashDefaults.cost

    @Option(help: "How many hashes to time (per thread; \(FlagRange.samples.text)).")
    var samples = 9

    @Option(
        help:
            "Threads hashing at once; with one per core this measures what the cores do together (\(FlagRange.calibrationThreads.text))."
    )
    var threads = 1

    @Option(
        help:
            "0: libxcrypt, one hash at a time. 1...\(BcryptLanes.maximumLanes): our bcrypt core, that many hashes interleaved per call (a sample is one batch; \(FlagRange.calibrationLanes.text))."
    )
    var lanes = 0

    @Option(help: "bcrypt, or argon2id at --argon2-memory, --argon2-passes and --argon2-lanes.")
    var algorithm = PasswordAlgorithm.bcrypt

    @Option(help: "argon2id's memory per hash (\(FlagRange.argon2Memory.text)).")
    var argon2Memory = Argon2Parameters.owasp.memoryKiB

    @Option(help: "argon2id's passes (\(FlagRange.argon2Passes.text)).")
    var argon2Passes = Argon2Parameters.owasp.passes

    @Option(help: "argon2id's lanes (\(FlagRange.argon2Lanes.text)).")
    var argon2Lanes = Argon2Parameters.owasp.lanes

    func run() throws {
        if algorithm == .argon2id { return try runArgon2() }
        try FlagRange.cost.check(cost, flag: "--cost")
        try FlagRange.samples.check(samples)
        try FlagRange.calibrationThreads.check(threads)
        try FlagRange.calibrationLanes.check(lanes)
        let all = Mutex<[Double]>([])
        let (cost, samples, lanes) = (cost, samples, lanes)
        concurrentlyOnThreads(threads) {
            let times =
                lanes == 0
                ? (try? BcryptHasher().measureServiceTimes(cost: cost, samples: samples)) ?? []
                : (try? BcryptLanes.measureBatchTimes(lanes: lanes, cost: cost, samples: samples)) ?? []
            all.withLock { $0 += times }
        }
        let times = all.withLock { $0.sorted() }
        guard !times.isEmpty else { throw ValidationError("bcrypt failed at cost \(cost)") }
        let median = times[times.count / 2]
        let json = JSONText.object([
            ("cost", .int(cost)), ("samples", .int(samples)), ("threads", .int(threads)), ("lanes", .int(lanes)),
            ("median_seconds", .double(median)),
            ("hashes_per_second", .double(Double(threads * max(1, lanes)) / median)),
            ("min_seconds", .double(times.first!)), ("max_seconds", .double(times.last!)),
        ])
        StandardStream.output.write(String(decoding: json, as: UTF8.self) + "\n")
    }
}

extension CalibrateCommand {
    /// Times argon2id hashes: `samples` per thread, each with its own memory.
    func runArgon2() throws {
        try FlagRange.samples.check(samples)
        try FlagRange.calibrationThreads.check(threads)
        let parameters = Argon2Parameters(memoryKiB: argon2Memory, passes: argon2Passes, lanes: argon2Lanes)
        if let problem = parameters.problem { throw ValidationError("argon2id: \(problem)") }
        let all = Mutex<[Double]>([])
        let samples = samples
        concurrentlyOnThreads(threads) {
            var times: [Double] = []
            for _ in 0..<samples {
                let started = MonotonicClock.now
                guard (try? Argon2Hasher.hash(password: Array("calibration".utf8), parameters: parameters)) != nil
                else { break }
                times.append(MonotonicClock.now - started)
            }
            all.withLock { $0 += times }
        }
        let times = all.withLock { $0.sorted() }
        guard !times.isEmpty else { throw ValidationError("argon2id failed at \(parameters)") }
        let median = times[times.count / 2]
        let json = JSONText.object([
            ("algorithm", .string("argon2id")), ("memory_kib", .int(parameters.memoryKiB)),
            ("passes", .int(parameters.passes)), ("lanes", .int(parameters.lanes)), ("samples", .int(samples)),
            ("threads", .int(threads)), ("median_seconds", .double(median)),
            ("hashes_per_second", .double(Double(threads) / median)),
            ("min_seconds", .double(times.first!)), ("max_seconds", .double(times.last!)),
        ])
        StandardStream.output.write(String(decoding: json, as: UTF8.self) + "\n")
    }
}

/// Runs `body` on `count` threads at once and waits for all of them.
private func concurrentlyOnThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
    let done = DispatchSemaphore(value: 0)
    for index in 0..<count {
        do {
            try PlatformThread.startDetached(name: "calibrate-\(index)", stackSize: 1 << 20) {
                body()
                done.signal()
            }
        } catch {
            done.signal()
        }
    }
    for _ in 0..<count { done.wait() }
}
