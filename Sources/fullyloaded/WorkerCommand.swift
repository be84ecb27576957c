import Admission
import Argon2
import ArgumentParser
import POSIXSupport
import PasswordService
import ServiceDefaults
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

    @Option(
        help:
            "Where to listen: unix:/path, /path, host:port, fd:N (an inherited socket), or systemd (socket activation)."
    )
    var listen: String

    @Option(
        help:
            "Request threads: one per request being served; connections still sending theirs, or idle between requests, hold none (\(FlagRange.requestThreads.text))."
    )
    var threads = PoolDefaults.requestThreads

    @Option(
        help:
            "Request threads expensive requests may hold at once; the rest stay free for cheap ones (default: half of --threads)."
    )
    var expensiveThreads: Int?

    @Option(
        help:
            "Mode of the unix socket the worker makes, in octal (600: its own user only; 660 for nginx in the socket's group)."
    )
    var socketMode = "600"

    @Option(
        help:
            "On a TCP socket, an address or network (10.0.0.5, 10.0.0.0/24) whose connections are served; repeat for several. Others are closed unanswered (default: loopback only)."
    )
    var allowPeer: [String] = []

    @Option(help: "Largest request body in bytes; larger ones get 413.")
    var maxBody = PasswordServiceConfiguration.defaultMaximumBodyBytes

    @OptionGroup var costs: CostOptions

    @OptionGroup var admission: AdmissionOptions

    @Option(
        help:
            "The shared segment of this host's workers: a file in a directory only this user or root may write, on tmpfs."
    )
    var segment = "/run/fullyloaded/segment/admission"

    @Flag(help: "Run bcrypt inline on the request thread, with no queue, no admission control and no shared segment.")
    var noAdmission = false

    @Option(
        help:
            "Where bcrypt runs: admission (the full design), inline (on the request thread), background (a normal-priority pool, unbounded queue). The last two only count their jobs in the segment."
    )
    var execution = WorkerConfiguration.Execution.admission

    @Option(help: "Exit (status 0, after finishing what it holds) once this many requests are served; 0: never.")
    var maxRequests = 0

    @Option(help: "Add a random 0...N to --max-requests, so that workers started together do not recycle together.")
    var maxRequestsJitter = 0

    // Set by `fullyloaded up` for its children; not for operators, so not in --help.
    @Flag(
        help: ArgumentHelp(
            "At --max-requests, ask the parent (SIGUSR1) to replace this worker instead of exiting.",
            visibility: .hidden))
    var recycleByParent = false

    @Flag(help: ArgumentHelp("Exit when the parent process exits.", visibility: .hidden))
    var exitWithParent = false

    func run() throws {
        let place: WorkerConfiguration.Listen
        if listen == "systemd" {
            guard let descriptor = SystemdActivation.takeListeningDescriptors().first else {
                throw ValidationError(
                    "--listen systemd: no socket passed (LISTEN_FDS/LISTEN_PID not set for this process)")
            }
            place = .inheritedDescriptor(descriptor)
        } else if listen.hasPrefix("fd:"), let descriptor = Int32(listen.dropFirst(3)) {
            place = .inheritedDescriptor(descriptor)
        } else if let endpoint = SocketEndpoint(parsing: listen) {
            place = .endpoint(endpoint)
        } else {
            throw ValidationError("--listen \(listen) is not unix:/path, host:port or fd:N")
        }
        // A stored argon2id hash asking for more memory than the budget could never run here.
        let memoryBudgetKiB = noAdmission ? Argon2Limits.hardest.memoryKiB : admission.hashMemoryKiB
        var argon2Limits = PasswordServiceConfiguration.defaultArgon2Limits(for: costs.argon2)
        argon2Limits.maximumMemoryKiB = min(argon2Limits.maximumMemoryKiB, memoryBudgetKiB)
        guard costs.argon2Memory <= memoryBudgetKiB else {
            throw ValidationError(
                "--argon2-memory \(costs.argon2Memory) KiB does not fit --hash-memory (\(memoryBudgetKiB / 1024) MiB)")
        }
        let service = PasswordServiceConfiguration(
            defaultCost: costs.cost, allowedCosts: costs.effectiveMinCost...max(costs.effectiveMinCost, costs.maxCost),
            maximumBodyBytes: maxBody, pepper: try costs.pepper(), algorithm: costs.algorithm, argon2: costs.argon2,
            argon2Limits: argon2Limits)
        if let problem = service.problem { throw ValidationError(problem) }
        guard costs.effectiveMinCost <= costs.maxCost else { throw ValidationError("--min-cost is above --max-cost") }
        try FlagRange.requestThreads.check(threads)
        if let expensiveThreads, !(1...threads).contains(expensiveThreads) {
            throw ValidationError("--expensive-threads must be 1...--threads")
        }
        // Before the first request: from here on its memory may hold passwords.
        try forbidCoreDumps()
        if exitWithParent { try setParentDeathSignal(SIGTERM) }
        guard segment.hasPrefix("/"), !segment.hasSuffix("/") else {
            throw ValidationError("--segment must be an absolute file path")
        }
        let settings = AdmissionSettings(
            segmentPath: segment, computeSlots: admission.slots, deadline: admission.deadline,
            headroom: admission.headroom, initialEstimateSeconds: admission.estimateSeconds, estimateCost: costs.cost,
            computeNiceness: admission.computeNiceness,
            refusalRate: admission.refusalRate * Double(admission.slots), fairness: admission.fairness == .on,
            lanes: admission.lanes, memoryBudgetKiB: memoryBudgetKiB)
        guard maxRequests >= 0, maxRequestsJitter >= 0 else {
            throw ValidationError("--max-requests and --max-requests-jitter must be 0 or more")
        }
        var configuration = WorkerConfiguration(
            listen: place, requestThreads: threads, service: service, admission: noAdmission ? nil : settings)
        configuration.socketMode = try SocketPermissions(mode: socketMode, group: nil).mode
        if !allowPeer.isEmpty {
            configuration.allowedPeers = try allowPeer.map { text in
                guard let range = AddressRange(parsing: text) else {
                    throw ValidationError("--allow-peer \(text) is not an address or address/prefix")
                }
                return range
            }
        } else if case .endpoint(.tcp(let host, _)) = place,
            !(AddressRange.addressBytes(host).map(AddressRange.loopback.containsAddress) ?? false)
        {
            throw ValidationError(
                "--listen \(listen) takes connections from other hosts: say which with --allow-peer (nginx's address)")
        } else if case .inheritedDescriptor(let descriptor) = place,
            let bound = AddressRange.localAddress(ofSocket: descriptor), !AddressRange.loopback.containsAddress(bound)
        {
            // A systemd TCP socket on another address: without --allow-peer the worker would
            // close every connection from the front, unanswered.
            throw ValidationError(
                "the socket handed over (\(listen)) is bound to \(AddressRange(address: bound)), which takes connections from other hosts: say which with --allow-peer (nginx's address)"
            )
        }
        configuration.execution = execution
        configuration.expensiveRequestThreads = expensiveThreads
        if maxRequests > 0 { configuration.maximumRequests = maxRequests + Int.random(in: 0...maxRequestsJitter) }
        configuration.recycleByParent = recycleByParent
        try WorkerProcess(configuration: configuration).run()
    }
}

extension WorkerConfiguration.Execution: ExpressibleByArgument {}
