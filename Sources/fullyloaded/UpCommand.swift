import ArgumentParser
import Foundation
import POSIXSupport
import StackRunner

/// `fullyloaded up`: the whole stack on loopback, in the foreground.
struct UpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start nginx and a worker pool on loopback; Ctrl-C stops all of it."
    )

    @Option(help: "Plain-HTTP port on 127.0.0.1.")
    var httpPort: UInt16 = 8080

    @Option(help: "Worker processes (default: one per core).")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Request threads per worker.")
    var threads = 256

    @OptionGroup var costs: CostOptions

    @OptionGroup var admission: AdmissionOptions

    @Option(help: "Runtime directory for sockets, logs and the nginx config (default: a new one under /tmp).")
    var runtimeDir: String?

    @Option(help: "Folder holding nginx/ (default: found next to the binary, else /usr/share/fullyloaded).")
    var shareDir: String?

    func run() throws {
        let executable = try ShareDirectory.currentExecutable()
        guard let share = shareDir ?? ShareDirectory.locate(from: executable) else {
            throw ValidationError("cannot find nginx/up.conf.template; pass --share-dir")
        }
        var configuration = StackConfiguration(workers: workers, shareDirectory: share, executable: executable)
        configuration.httpPort = httpPort
        configuration.requestThreads = threads
        configuration.cost = costs.cost
        configuration.minimumCost = costs.minCost
        configuration.maximumCost = costs.maxCost
        configuration.runtimeDirectory = runtimeDir
        configuration.workerOptions =
            [
                "--deadline", "\(admission.deadline)", "--compute-slots", "\(admission.computeSlots)",
                "--headroom", "\(admission.headroom)", "--compute-niceness=\(admission.computeNiceness)",
                "--refusal-rate", "\(admission.refusalRate)",
            ] + (admission.estimateSeconds.map { ["--estimate-seconds", "\($0)"] } ?? [])

        try Stack.supervisedSignals.blockInCallingThread()
        let stack = Stack(configuration: configuration)
        do {
            try stack.start()
        } catch {
            StandardStream.error.write("fullyloaded up: \(error)\n")
            throw ExitCode(1)
        }
        let banner =
            "fullyloaded is up: \(stack.url)  (\(workers) workers, cost \(costs.cost), N = \(admission.deadline) s; runtime \(stack.runtimeDirectory); Ctrl-C stops)\n"
        StandardStream.output.write(banner)
        do {
            try stack.superviseUntilStopped()
        } catch {
            StandardStream.error.write("fullyloaded up: \(error)\n")
            throw ExitCode(1)
        }
    }
}
