import ArgumentParser
import Bcrypt
import POSIXSupport

/// `fullyloaded calibrate`: how long one bcrypt takes on one core of this machine.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Time single bcrypt hashes on one thread and print the figures as JSON."
    )

    @Option(help: "bcrypt cost to time.")
    var cost = 12

    @Option(help: "How many hashes to time.")
    var samples = 9

    func run() throws {
        guard BcryptHasher.supportedCosts.contains(cost) else { throw ValidationError("--cost must be 4...31") }
        guard (1...1000).contains(samples) else { throw ValidationError("--samples must be 1...1000") }
        let times = try BcryptHasher().measureServiceTimes(cost: cost, samples: samples)
        let median = times[times.count / 2]
        let json = JSONText.object([
            ("cost", .int(cost)), ("samples", .int(samples)), ("median_seconds", .double(median)),
            ("min_seconds", .double(times.first!)), ("max_seconds", .double(times.last!)),
        ])
        StandardStream.output.write(String(decoding: json, as: UTF8.self) + "\n")
    }
}
