import Admission
import Argon2
import ArgumentParser
import CommandLineOptions
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

    @OptionGroup var options: WorkerOptions

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
        let memoryBudgetKiB = options.noAdmission ? Argon2Limits.hardest.memoryKiB : options.admission.hashMemoryKiB
        var argon2Limits = PasswordServiceConfiguration.defaultArgon2Limits(for: options.costs.argon2)
        argon2Limits.maximumMemoryKiB = min(argon2Limits.maximumMemoryKiB, memoryBudgetKiB)
        guard options.costs.argon2Memory <= memoryBudgetKiB else {
            throw ValidationError(
                "--argon2-memory \(options.costs.argon2Memory) KiB does not fit --hash-memory (\(memoryBudgetKiB / 1024) MiB)"
            )
        }
        let service = PasswordServiceConfiguration(
            defaultCost: options.costs.cost,
            allowedCosts: options.costs.effectiveMinCost...max(options.costs.effectiveMinCost, options.costs.maxCost),
            maximumBodyBytes: options.maxBody, pepper: try options.costs.pepper(), algorithm: options.costs.algorithm,
            argon2: options.costs.argon2,
            argon2Limits: argon2Limits)
        if let problem = service.problem { throw ValidationError(problem) }
        guard options.costs.effectiveMinCost <= options.costs.maxCost else {
            throw ValidationError("--min-cost is above --max-cost")
        }
        try FlagRange.requestThreads.check(options.threads)
        if let expensiveThreads = options.expensiveThreads, !(1...options.threads).contains(expensiveThreads) {
            throw ValidationError("--expensive-threads must be 1...--threads")
        }
        // Before the first request: from here on its memory may hold passwords.
        try forbidCoreDumps()
        if options.exitWithParent { try setParentDeathSignal(SIGTERM) }
        guard options.segment.hasPrefix("/"), !options.segment.hasSuffix("/") else {
            throw ValidationError("--segment must be an absolute file path")
        }
        let settings = AdmissionSettings(
            segmentPath: options.segment, computeSlots: options.admission.slots, deadline: options.admission.deadline,
            headroom: options.admission.headroom, initialEstimateSeconds: options.admission.estimateSeconds,
            estimateCost: options.costs.cost,
            computeNiceness: options.admission.computeNiceness,
            refusalRate: options.admission.refusalRate * Double(options.admission.slots),
            fairness: options.admission.fairness == .on,
            lanes: options.admission.lanes, memoryBudgetKiB: memoryBudgetKiB)
        guard options.maxRequests >= 0, options.maxRequestsJitter >= 0 else {
            throw ValidationError("--max-requests and --max-requests-jitter must be 0 or more")
        }
        var configuration = WorkerConfiguration(
            listen: place, requestThreads: options.threads, service: service,
            admission: options.noAdmission ? nil : settings)
        configuration.socketMode = try SocketPermissions(mode: options.socketMode, group: nil).mode
        if !options.allowPeer.isEmpty {
            configuration.allowedPeers = try options.allowPeer.map { text in
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
        configuration.execution = options.execution
        configuration.expensiveRequestThreads = options.expensiveThreads
        if options.maxRequests > 0 {
            configuration.maximumRequests = options.maxRequests + Int.random(in: 0...options.maxRequestsJitter)
        }
        configuration.recycleByParent = options.recycleByParent
        try WorkerProcess(configuration: configuration).run()
    }
}
