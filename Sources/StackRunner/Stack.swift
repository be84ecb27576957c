import Admission
import Foundation
import Logging
import POSIXSupport

/// The whole stack on loopback: nginx in the foreground as a child, a pool of workers and the
/// monitor, all under one runtime directory that is removed again on stop.
public final class Stack {
    /// The signals the supervisor waits for; blocked before any child starts.
    public static let supervisedSignals = SignalSet([SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1])

    /// A supervised child: a worker, or the monitor.
    private struct ChildSlot {
        /// `worker 0`, `monitor`: for logs and errors.
        var name: String
        /// Its log file's name in the runtime directory.
        var logName: String
        /// Where it listens once ready.
        var endpoint: SocketEndpoint
        var arguments: [String]
        var process: ChildProcess?
        var restarts = 0
        /// Crashes in a row, each within a second of starting: what the backoff grows with.
        var quickCrashes = 0
        var restartAt: Double?
        var lastStart = 0.0
    }

    /// The configuration it runs.
    public let configuration: StackConfiguration
    /// The runtime directory in use.
    public private(set) var runtimeDirectory = ""
    private var ownsRuntimeDirectory = false
    private var workers: [ChildSlot] = []
    /// One per host; the first serves the dashboard and shows the others as its peers.
    private var monitors: [ChildSlot] = []
    private var nginx: ChildProcess?
    private let log = Logger(label: "up")

    /// Creates a stack; nothing starts until ``start()``.
    public init(configuration: StackConfiguration) {
        self.configuration = configuration
    }

    /// The shared-memory segment of this stack's workers, named after its runtime directory so
    /// that two stacks on one machine keep separate promises.
    public var segmentName: String { segmentName(host: 0) }

    /// The segment of one rehearsal host (`--hosts`): each keeps its own promise.
    public func segmentName(host: Int) -> String {
        "/fullyloaded." + (runtimeDirectory.split(separator: "/").last.map(String.init) ?? "up")
            + (host == 0 ? "" : "-h\(host)")
    }

    /// The URL the stack serves.
    public var url: String { "http://127.0.0.1:\(configuration.httpPort)/" }

    /// The HTTPS URL, when HTTPS is on.
    public var secureURL: String? { configuration.httpsPort.map { "https://localhost:\($0)/" } }

    /// Starts workers, then nginx, and returns once `/api/ping` answers through nginx.
    /// On failure everything started so far is stopped again.
    public func start(readyTimeout: Double = 20) throws(StackError) {
        guard configuration.workers >= 1 || !configuration.remoteWorkers.isEmpty else {
            throw .invalidConfiguration("--workers must be at least 1 (or name other hosts' workers with --upstream)")
        }
        guard (1...16).contains(configuration.hosts) else { throw .invalidConfiguration("--hosts must be 1...16") }
        guard configuration.requestThreads >= 1 else { throw .invalidConfiguration("--threads must be at least 1") }
        guard LoopbackPort.isFree(configuration.httpPort) else { throw .portInUse(configuration.httpPort) }
        if let https = configuration.httpsPort {
            guard https != configuration.httpPort, LoopbackPort.isFree(https) else {
                throw .portInUse(https, option: "--https-port")
            }
        }
        let template = try NginxTemplate(contentsOf: configuration.shareDirectory + "/nginx/up.conf.template")
        do {
            try prepareRuntimeDirectory()
            workers = try makeWorkerSlots()
            for index in workers.indices { try start(&workers[index]) }
            try waitForSockets(of: workers, timeout: readyTimeout)
            monitors = makeMonitorSlots()
            for index in monitors.indices { try start(&monitors[index]) }
            try waitForSockets(of: monitors, timeout: readyTimeout)
            try startNginx(template: template)
            try waitForPing(timeout: readyTimeout)
            log.info(
                "ready",
                metadata: [
                    "url": "\(url)", "workers": .stringConvertible(configuration.workerCount),
                    "architecture": "\(configuration.architecture.rawValue)",
                ])
        } catch {
            stop()
            throw error
        }
    }

    /// Supervises until SIGINT or SIGTERM: restarts crashed workers with backoff, and stops the
    /// stack if nginx dies. Returns the stack stopped.
    public func superviseUntilStopped() throws(StackError) {
        defer { stop() }
        while true {
            let received = Self.supervisedSignals.waitWithSender(timeout: 0.2)
            let signal = received?.signal
            if signal == SIGINT || signal == SIGTERM {
                log.info("stop requested", metadata: ["signal": .stringConvertible(Int(signal ?? 0))])
                return
            }
            if signal == SIGHUP { try restartWorkersOneByOne() }
            if signal == SIGUSR1, let sender = received?.sender,
                let index = workers.firstIndex(where: { $0.process?.pid == sender })
            {
                // A worker that served --max-requests asks to be replaced. One at a time, each
                // replacement listening before the next goes: the pool never loses two at once.
                try replaceWorker(at: index, reason: "recycled")
            }
            try reapAndRestart()
        }
    }

    /// Stops nginx and the workers (gracefully, then by force) and removes the runtime directory.
    public func stop() {
        if let nginx {
            // SIGQUIT: nginx finishes the requests it is serving, then exits.
            _ = try? nginx.stop(signal: SIGQUIT, grace: 5)
            self.nginx = nil
        }
        for index in monitors.indices {
            if let process = monitors[index].process {
                _ = try? process.stop(signal: SIGTERM, grace: 5)
                monitors[index].process = nil
            }
            if case .unix(let path) = monitors[index].endpoint { unlink(path) }
        }
        for index in workers.indices {
            if let process = workers[index].process {
                _ = try? process.stop(signal: SIGTERM, grace: 10)
                workers[index].process = nil
            }
        }
        if !runtimeDirectory.isEmpty {
            for host in 0..<configuration.hosts { SharedSegment.unlink(name: segmentName(host: host)) }
        }
        if ownsRuntimeDirectory, !runtimeDirectory.isEmpty {
            try? FileManager.default.removeItem(atPath: runtimeDirectory)
            ownsRuntimeDirectory = false
        }
        log.info("stopped")
    }

    private func prepareRuntimeDirectory() throws(StackError) {
        if let given = configuration.runtimeDirectory {
            runtimeDirectory = given
            do {
                try FileManager.default.createDirectory(atPath: given, withIntermediateDirectories: true)
            } catch {
                throw .invalidConfiguration("cannot create runtime directory \(given): \(error)")
            }
        } else {
            var template = Array("/tmp/fullyloaded.XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw .system(SystemCallError(call: "mkdtemp", errno: errno)) }
            runtimeDirectory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            ownsRuntimeDirectory = true
        }
        // Private: nginx, the workers and the monitor all run as this user (root was dropped first).
        chmod(runtimeDirectory, 0o700)
        let temporary = runtimeDirectory + "/nginx-tmp"
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        if geteuid() == 0, let nobody = getpwnam("nobody") {
            chown(temporary, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
        }
    }

    private func workerArguments(host: Int) -> [String] {
        [
            "--cost", "\(configuration.cost)", "--min-cost", "\(configuration.minimumCost)",
            "--max-cost", "\(configuration.maximumCost)", "--threads", "\(configuration.threadsPerWorker)",
            "--execution", configuration.architecture.execution,
            "--exit-with-parent", "--shm-name", segmentName(host: host),
        ] + recycling + configuration.workerOptions
    }

    /// --max-requests, with the worker asking `up` to replace it (SIGUSR1) rather than exiting:
    /// `up` replaces one at a time, where workers exiting by themselves could all go at once.
    private var recycling: [String] {
        guard let limit = configuration.maximumRequests else { return [] }
        return ["--max-requests", "\(limit)", "--max-requests-jitter", "\(max(1, limit / 10))", "--recycle-by-parent"]
    }

    /// Where the first host's monitor listens; nginx proxies /ws and /metrics there.
    var monitorSocketPath: String { runtimeDirectory + "/monitor.sock" }

    /// The workers of every host. One host: unix sockets in the runtime directory. Several
    /// (a rehearsal of a multi-host setup): TCP on loopback, as workers on other hosts would be.
    private func makeWorkerSlots() throws(StackError) -> [ChildSlot] {
        var slots: [ChildSlot] = []
        for host in 0..<configuration.hosts {
            for index in 0..<configuration.workerCount {
                let name = configuration.hosts == 1 ? "worker \(index)" : "host \(host) worker \(index)"
                let file = configuration.hosts == 1 ? "worker-\(index)" : "host-\(host)-worker-\(index)"
                let endpoint: SocketEndpoint
                if configuration.hosts == 1 {
                    endpoint = .unix(path: "\(runtimeDirectory)/\(file).sock")
                } else {
                    do {
                        endpoint = .tcp(host: "127.0.0.1", port: try LoopbackPort.ephemeral())
                    } catch {
                        throw .system(error)
                    }
                }
                slots.append(
                    ChildSlot(
                        name: name, logName: "\(file).log", endpoint: endpoint,
                        arguments: ["worker", "--listen", "\(endpoint)"] + workerArguments(host: host)))
            }
        }
        return slots
    }

    /// A monitor per host, on its segment; the first lists the others as peers for the dashboard.
    private func makeMonitorSlots() -> [ChildSlot] {
        let sockets = (0..<configuration.hosts).map {
            $0 == 0 ? monitorSocketPath : runtimeDirectory + "/monitor-\($0).sock"
        }
        return (0..<configuration.hosts).map { host in
            let peers =
                host == 0 && configuration.hosts > 1
                ? sockets.enumerated().dropFirst().flatMap { ["--peer", "host \($0.offset)=unix:\($0.element)"] } : []
            return ChildSlot(
                name: host == 0 ? "monitor" : "host \(host) monitor",
                logName: host == 0 ? "monitor.log" : "monitor-\(host).log",
                endpoint: .unix(path: sockets[host]),
                arguments: [
                    "monitor", "--listen", "unix:\(sockets[host])", "--shm-name", segmentName(host: host),
                    "--ping-port", "\(configuration.httpPort)", "--cost", "\(configuration.cost)",
                    "--architecture", configuration.architecture.rawValue, "--exit-with-parent",
                    "--host-name", configuration.hosts > 1 ? "host \(host)" : "localhost",
                ] + peers)
        }
    }

    private func start(_ child: inout ChildSlot) throws(StackError) {
        do {
            let process = try ChildProcess.spawn(
                executable: configuration.executable, arguments: child.arguments,
                standardOutput: "\(runtimeDirectory)/\(child.logName)")
            child.process = process
            child.lastStart = MonotonicClock.now
            child.restartAt = nil
            log.info(
                child.restarts > 0 ? "restarted" : "started",
                metadata: ["child": "\(child.name)", "child_pid": .stringConvertible(Int(process.pid))])
        } catch {
            throw .system(error)
        }
    }

    private func waitForSockets(of children: [ChildSlot], timeout: Double) throws(StackError) {
        let deadline = MonotonicClock.now + timeout
        for child in children {
            while true {
                if let status = try reap(child.process) {
                    throw .childFailed(name: child.name, status: status, logTail: tail(of: child.logName))
                }
                if let socket = try? child.endpoint.connect(timeout: 1) {
                    socket.close()
                    break
                }
                if MonotonicClock.now > deadline {
                    throw .notReady(name: child.name, seconds: timeout, logTail: tail(of: child.logName))
                }
                usleep(20_000)
            }
        }
    }

    private func startNginx(template: NginxTemplate) throws(StackError) {
        let upstreams = configuration.upstreams(servers: workers.map(\.endpoint) + configuration.remoteWorkers)
        let rendered = try template.render([
            "RUNTIME_DIR": runtimeDirectory,
            "SHARE_DIR": configuration.shareDirectory,
            "HTTP_PORT": "\(configuration.httpPort)",
            "UPSTREAMS": upstreams.render(),
            "MONITOR_SOCKET": monitorSocketPath,
            "USER_DIRECTIVE": geteuid() == 0 ? "user nobody nogroup;" : "",
            "RATE_LIMITED": configuration.rateLimit == nil ? "0" : "1",
            "RATE_LIMIT": "\(configuration.rateLimit ?? 1)",
            "HTTPS_INCLUDE": configuration.httpsPort == nil ? "" : "include https-server.conf;",
        ])
        let configPath = runtimeDirectory + "/nginx.conf"
        if let httpsPort = configuration.httpsPort {
            // Read as root before root was dropped, or here as the user it belongs to; nginx reads
            // a copy in the private runtime directory.
            let certificate: SelfSignedCertificate
            if let given = configuration.certificate {
                certificate = given
            } else {
                certificate = try SelfSignedCertificate(directory: configuration.tlsDirectory)
            }
            let paths = try certificate.install(in: runtimeDirectory + "/tls")
            let https = try NginxTemplate(contentsOf: configuration.shareDirectory + "/nginx/up-https.conf.template")
                .render([
                    "HTTPS_PORT": "\(httpsPort)", "SHARE_DIR": configuration.shareDirectory,
                    "TLS_CERTIFICATE": paths.certificate, "TLS_KEY": paths.key,
                ])
            do {
                try https.write(toFile: runtimeDirectory + "/https-server.conf", atomically: true, encoding: .utf8)
            } catch {
                throw .invalidConfiguration("cannot write https-server.conf: \(error)")
            }
        }
        do {
            // nginx resolves relative includes against the config's folder: `include snippets/…`
            // then means the same here and in /etc/nginx on a production host.
            let snippets = runtimeDirectory + "/snippets"
            try? FileManager.default.removeItem(atPath: snippets)
            try FileManager.default.createSymbolicLink(
                atPath: snippets, withDestinationPath: configuration.shareDirectory + "/nginx/snippets")
            try rendered.write(toFile: configPath, atomically: true, encoding: .utf8)
        } catch {
            throw .invalidConfiguration("cannot write \(configPath): \(error)")
        }
        do {
            nginx = try ChildProcess.spawn(
                executable: configuration.nginxExecutable,
                arguments: ["-p", runtimeDirectory, "-c", configPath, "-e", runtimeDirectory + "/nginx-error.log"],
                standardOutput: runtimeDirectory + "/nginx.out")
        } catch {
            throw .system(error)
        }
        log.info(
            "nginx started", metadata: ["nginx_pid": .stringConvertible(Int(nginx!.pid)), "config": "\(configPath)"])
    }

    private func waitForPing(timeout: Double) throws(StackError) {
        let client = LoopbackHTTPClient(port: configuration.httpPort, timeout: 2)
        let deadline = MonotonicClock.now + timeout
        while true {
            if let status = try reap(nginx) {
                nginx = nil
                throw .childFailed(name: "nginx", status: status, logTail: tail(of: "nginx-error.log"))
            }
            if client.status(of: "/api/ping") == 200 { return }
            if MonotonicClock.now > deadline {
                throw .notReady(name: "nginx", seconds: timeout, logTail: tail(of: "nginx-error.log"))
            }
            usleep(20_000)
        }
    }

    private func reap(_ process: ChildProcess?) throws(StackError) -> ExitStatus? {
        guard let process else { return nil }
        do {
            return try process.reapIfEnded()
        } catch {
            throw .system(error)
        }
    }

    private func reapAndRestart() throws(StackError) {
        if let status = try reap(nginx) {
            nginx = nil
            log.error("nginx exited", metadata: ["status": "\(status.description)"])
            throw .childFailed(name: "nginx", status: status, logTail: tail(of: "nginx-error.log"))
        }
        let now = MonotonicClock.now
        for index in workers.indices { try supervise(&workers[index], now: now) }
        for index in monitors.indices { try supervise(&monitors[index], now: now) }
    }

    /// SIGHUP: replaces the workers one at a time. Each old worker stops accepting (nginx's
    /// connects to it are refused at once and go to the others), finishes what it holds, and
    /// exits; its replacement takes the same socket before the next one goes. No request fails.
    private func restartWorkersOneByOne() throws(StackError) {
        log.info("rolling restart", metadata: ["workers": .stringConvertible(workers.count)])
        for index in workers.indices { try replaceWorker(at: index, reason: "rolled") }
        log.info("rolling restart done")
    }

    /// Stops one worker (it drains what it holds), starts its replacement and waits until it
    /// listens.
    private func replaceWorker(at index: Int, reason: String) throws(StackError) {
        if let old = workers[index].process {
            do {
                _ = try old.stop(signal: SIGTERM, grace: 15)
            } catch {
                throw .system(error)
            }
            workers[index].process = nil
        }
        try start(&workers[index])
        try waitForSockets(of: [workers[index]], timeout: 20)
        log.info("\(reason)", metadata: ["child": "\(workers[index].name)"])
    }

    /// Restarts a child that ended: after 0.1 s, or with backoff when it keeps dying within a
    /// second of starting.
    private func supervise(_ child: inout ChildSlot, now: Double) throws(StackError) {
        if let status = try reap(child.process) {
            child.process = nil
            child.restarts += 1
            // A child that served a while and was killed is not crash-looping: back at once. One
            // that dies as it starts waits 0.2 s, doubling, at most 5 s.
            child.quickCrashes = now - child.lastStart < 1 ? child.quickCrashes + 1 : 0
            let delay = child.quickCrashes == 0 ? 0.1 : min(5, 0.1 * pow(2, Double(min(child.quickCrashes, 6))))
            child.restartAt = now + delay
            log.warning(
                "crashed",
                metadata: [
                    "child": "\(child.name)", "status": "\(status.description)",
                    "restarts": .stringConvertible(child.restarts), "restart_in": .stringConvertible(delay),
                ])
        }
        if child.process == nil, let at = child.restartAt, at <= now {
            try start(&child)
        }
    }

    private func tail(of name: String) -> String {
        guard let text = try? String(contentsOfFile: runtimeDirectory + "/" + name, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(8).joined(separator: "\n")
    }
}
