import ArgumentParser
import Bcrypt
import Dispatch
import JSONWriting
import POSIXSupport
import Synchronization

/// `fullyloaded calibrate`: how long one bcrypt (or one batch of interleaved ones) takes on one
/// core of this machine.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Time single bcrypt hashes on one thread and print the figures as JSON."
    )

    @Option(help: "bcrypt cost to time (\(FlagRange.cost.text)).")
    var cost = 12

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

    func run() throws {
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
