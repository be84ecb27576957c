// Longer than most files: `up`'s options, each with its help and its check, then one run().

import Admission
import ArgumentParser
import CommandLineOptions
import Foundation
import Logging
import POSIXSupport
import ServiceDefaults
import StackRunner

/// `fullyloaded up`: the whole stack on loopback, in the foreground.
struct UpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start nginx and a worker pool on loopback; Ctrl-C stops all of it."
    )

    @Option(help: "Plain-HTTP port on 127.0.0.1.")
    var httpPort: UInt16 = 8080

    @Flag(help: "Serve plain HTTP on [::1] too, on --http-port (for clients on IPv6 addresses of this machine).")
    var ipv6Loopback = false

    @Option(help: "HTTPS (HTTP/2) port on 127.0.0.1, with a self-signed certificate made on first run; 0: none.")
    var httpsPort: UInt16 = 8443

    @Option(help: "Where the self-signed certificate is kept (default: ~/.local/state/fullyloaded/tls).")
    var tlsDir: String?

    @Option(
        help:
            "Limit each client address to this many expensive requests per second past a burst of 40 (\(FlagRange.upLimits.text); 0: no limit, the fair share decides who gets the hashing)."
    )
    var rateLimit = 0

    @Option(
        help:
            "An address or CIDR range (an application server, a reverse proxy) whose Fullyloaded-Client header names the end user it calls for (repeatable); from anyone else the header is ignored."
    )
    var trustedProxy: [String] = []

    /// `--trusted-proxy` as ranges.
    private func trustedProxies() throws -> [AddressRange] {
        try Self.ranges(trustedProxy, flag: "--trusted-proxy")
    }

    /// The values of a repeatable address-or-network flag, as ranges.
    private static func ranges(_ texts: [String], flag: String) throws -> [AddressRange] {
        try texts.map { text in
            guard let range = AddressRange(parsing: text) else {
                throw ValidationError("\(flag) \(text) is not an address or address/prefix")
            }
            return range
        }
    }

    @Option(
        help:
            "An address or CIDR range that may call the hashing routes (/api/hash, /api/verify, /api/load; repeatable); from anywhere else nginx answers 403. None: everyone."
    )
    var apiNetwork: [String] = []

    @Option(
        help:
            "A CA certificate (PEM) whose client certificates also admit a caller on HTTPS, from any network (browsers are not asked for one)."
    )
    var apiClientCa: String?

    @Flag(
        help: "Keep the dashboard, /ws and /api/stats to the --api-network ranges (and valid client certificates) too.")
    var privatePages = false

    /// `--api-network` as ranges.
    private func apiNetworks() throws -> [AddressRange] {
        try Self.ranges(apiNetwork, flag: "--api-network")
    }

    /// The `--api-client-ca` file's certificates, read before root is dropped.
    private func apiClientCertificateAuthority() throws -> String? {
        guard let apiClientCa else { return nil }
        guard let text = try? String(contentsOfFile: apiClientCa, encoding: .utf8) else {
            throw ValidationError("--api-client-ca \(apiClientCa) cannot be read")
        }
        guard text.contains("-----BEGIN CERTIFICATE-----"), text.utf8.count <= 1 << 20 else {
            throw ValidationError("--api-client-ca \(apiClientCa) holds no PEM certificate")
        }
        return text
    }

    @Option(
        help:
            "When started as root: the user that nginx, the workers and the monitor run as. The default is made on first run (a system account); one other daemons share, such as nobody, needs --shared-user."
    )
    var user = UpCommand.defaultUser

    @Flag(
        help: "When started as root: allow a --user other daemons share (nobody): they could read what the stack keeps."
    )
    var sharedUser = false

    /// The account `up` as root runs its children as, of its own: not the package's `fullyloaded`,
    /// whose service runs beside it, nor `nobody`, which other daemons share.
    static let defaultUser = "fullyloaded-up"

    @Option(
        help:
            "The round of the design: sync (one thread), async (one process, background pool), coarse (single-threaded worker per core), fine (the full design)."
    )
    var architecture = Architecture.fine

    @Option(help: "Rehearse this many hosts on this machine, each with its own workers (TCP), segment and monitor.")
    var hosts = 1

    @Option(
        help:
            "A worker on another host (HOST:PORT) that nginx balances over too (repeatable); with it --workers may be 0."
    )
    var upstream: [String] = []

    @Option(name: .customLong("workers"), help: "Worker processes (default: one per core).")
    var workerCount: Int?

    /// `--workers`, or one per core.
    var workers: Int { workerCount ?? ProcessInfo.processInfo.activeProcessorCount }

    @Option(
        help:
            "Request threads per worker (half at most for expensive requests, a quarter at least kept for cheap ones).")
    var threads = PoolDefaults.requestThreads

    @Option(help: "Replace each worker after about this many requests (\(FlagRange.upLimits.text); 0: never).")
    var maxRequests = 0

    @OptionGroup var costs: CostOptions

    @OptionGroup var admission: AdmissionOptions

    @Option(help: "Runtime directory for sockets, logs and the nginx config (default: a new one under /tmp).")
    var runtimeDir: String?

    @Option(
        help: "Folder holding nginx/ (default: found next to the binary, else /usr/share/fullyloaded, the package's).")
    var shareDir: String?

    func validate() throws {
        try FlagRange.upLimits.check(rateLimit, flag: "--rate-limit")
        try FlagRange.upLimits.check(maxRequests, flag: "--max-requests")
        _ = try remoteWorkers()
        _ = try trustedProxies()
        _ = try apiNetworks()
        _ = try costs.pepper()
        if apiClientCa != nil, httpsPort == 0 { throw ValidationError("--api-client-ca needs HTTPS (--https-port)") }
        if privatePages, apiNetwork.isEmpty, apiClientCa == nil {
            throw ValidationError(
                "--private-pages needs --api-network or --api-client-ca: it would close the page to everyone")
        }
    }

    /// `--upstream` as endpoints: TCP only, since another host's unix socket is out of reach.
    private func remoteWorkers() throws -> [SocketEndpoint] {
        try upstream.map { text in
            guard let endpoint = SocketEndpoint(parsing: text), case .tcp = endpoint else {
                throw ValidationError("--upstream \(text) is not HOST:PORT")
            }
            return endpoint
        }
    }

    func run() throws {
        let executable = try ShareDirectory.currentExecutable()
        guard let share = shareDir ?? ShareDirectory.locate(from: executable) else {
            throw ValidationError("cannot find nginx/up.conf.template; pass --share-dir")
        }
        var configuration = StackConfiguration(workers: workers, shareDirectory: share, executable: executable)
        configuration.httpPort = httpPort
        configuration.ipv6Loopback = ipv6Loopback
        configuration.architecture = architecture
        configuration.hosts = hosts
        configuration.remoteWorkers = try remoteWorkers()
        configuration.httpsPort = httpsPort == 0 ? nil : httpsPort
        if let tlsDir { configuration.tlsDirectory = tlsDir }
        configuration.rateLimit = rateLimit > 0 ? rateLimit : nil
        configuration.trustedProxies = try trustedProxies()
        configuration.apiNetworks = try apiNetworks()
        configuration.apiClientCertificateAuthority = try apiClientCertificateAuthority()
        configuration.privatePages = privatePages
        // Read here, as root before root is dropped, and given to the workers as their own copy.
        configuration.pepperKeys = try costs.pepperFileText()
        configuration.requestThreads = threads
        configuration.maximumRequests = maxRequests > 0 ? maxRequests : nil
        configuration.runtimeDirectory = runtimeDir
        configuration.worker.costs = costs
        configuration.worker.costs.minCost = costs.effectiveMinCost
        configuration.worker.admission = admission
        // Rehearsed hosts share this machine's cores: each gets its share of slots, unless told.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        configuration.worker.admission.computeSlots =
            hosts > 1 && admission.computeSlots == nil ? max(1, cores / hosts) : admission.slots

        if geteuid() == 0 { try dropRoot(&configuration) }
        try Stack.supervisedSignals.blockInCallingThread()
        let stack = Stack(configuration: configuration)
        do {
            try stack.start()
        } catch {
            StandardStream.error.write("fullyloaded up: \(error)\n")
            throw ExitCode(1)
        }
        let banner =
            "fullyloaded is up: \(stack.url)\(stack.secureURL.map { " and \($0)" } ?? "")  (\(architecture.rawValue): \(architecture.workers(requested: workers)) workers, cost \(costs.cost), N = \(admission.deadline) s; runtime \(stack.runtimeDirectory); Ctrl-C stops)\n"
        StandardStream.output.write(banner)
        do {
            try stack.superviseUntilStopped()
        } catch {
            StandardStream.error.write("fullyloaded up: \(error)\n")
            throw ExitCode(1)
        }
    }

    /// The `--user` account: made if it is the default and missing; root's refused, and one
    /// other daemons share refused unless `--shared-user`.
    private func runAccount() throws -> UserAccount {
        let account: UserAccount
        if getpwnam(user) == nil, user == Self.defaultUser {
            account = try UserAccount.createSystemAccount(named: user, comment: "fullyloaded up")
            Logger(label: "up").info("made its user", metadata: ["user": "\(user)", "uid": "\(account.userID)"])
        } else {
            account = try UserAccount(named: user)
        }
        if account.userID == 0 { throw ValidationError("--user \(user) is root: up runs nothing as root") }
        if account.isShared && !sharedUser {
            throw ValidationError(
                "--user \(user) is shared with other daemons, which could read the stack's sockets, segment and key: "
                    + "leave --user out (up makes \(Self.defaultUser)) or pass --shared-user")
        }
        return account
    }

    /// Nothing in the stack needs root (its ports are above 1024): read what only root may read,
    /// and become `--user` before anything starts. Root gives the user nothing it will touch again:
    /// the certificate stays root's (the stack gets a copy in memory), and a `--runtime-dir`
    /// handed over must be a directory nobody else owns, changed through its descriptor.
    private func dropRoot(_ configuration: inout StackConfiguration) throws {
        let account = try runAccount()
        if tlsDir == nil {
            configuration.tlsDirectory = "/var/lib/fullyloaded/tls"
            // Earlier versions handed this folder to --user: what is in it now is that user's
            // to have changed, so it is moved aside unread and a new pair made.
            if let untrusted = SelfSignedCertificate.setAsideIfNotOwned(configuration.tlsDirectory) {
                Logger(label: "up").warning(
                    "certificate folder not root's: set aside, a new one made",
                    metadata: ["folder": "\(configuration.tlsDirectory)", "moved_to": "\(untrusted)"])
            }
        }
        if configuration.httpsPort != nil {
            configuration.certificate = try SelfSignedCertificate(directory: configuration.tlsDirectory)
        }
        if let runtimeDir { try account.takeOwnership(ofDirectory: runtimeDir) }
        try account.become()
        Logger(label: "up").info("dropped root", metadata: ["user": "\(user)"])
    }
}

extension Architecture: ExpressibleByArgument {}
