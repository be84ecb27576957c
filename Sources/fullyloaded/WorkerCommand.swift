import ArgumentParser
import POSIXSupport
import PasswordService
import Worker

#if canImport(Glibc)
    import Glibc
#endif

/// `fullyloaded worker`: one FastCGI worker process.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Serve the password API over FastCGI until SIGTERM."
    )

    @Option(help: "Where to listen: unix:/path, /path, host:port, or fd:N for an inherited socket.")
    var listen: String

    @Option(help: "Request threads; must exceed the connections nginx keeps to this worker.")
    var threads = 256

    @Option(help: "Largest request body in bytes; larger ones get 413.")
    var maxBody = PasswordServiceConfiguration.defaultMaximumBodyBytes

    @OptionGroup var costs: CostOptions

    @Flag(help: "Exit when the parent process exits (set by `fullyloaded up`).")
    var exitWithParent = false

    func run() throws {
        let place: WorkerConfiguration.Listen
        if listen.hasPrefix("fd:"), let descriptor = Int32(listen.dropFirst(3)) {
            place = .inheritedDescriptor(descriptor)
        } else if let endpoint = SocketEndpoint(parsing: listen) {
            place = .endpoint(endpoint)
        } else {
            throw ValidationError("--listen \(listen) is not unix:/path, host:port or fd:N")
        }
        let service = PasswordServiceConfiguration(
            defaultCost: costs.cost, allowedCosts: costs.minCost...max(costs.minCost, costs.maxCost),
            maximumBodyBytes: maxBody)
        if let problem = service.problem { throw ValidationError(problem) }
        guard costs.minCost <= costs.maxCost else { throw ValidationError("--min-cost is above --max-cost") }
        guard (1...4096).contains(threads) else { throw ValidationError("--threads must be 1...4096") }
        if exitWithParent { try setParentDeathSignal(SIGTERM) }
        try WorkerProcess(
            configuration: WorkerConfiguration(listen: place, requestThreads: threads, service: service)
        ).run()
    }
}
