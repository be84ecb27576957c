import Admission
import Foundation
import POSIXSupport

/// The whole stack on loopback: nginx in the foreground as a child, and a pool of workers, all
/// under one runtime directory that is removed again on stop.
public final class Stack {
    /// The signals the supervisor waits for; blocked before any child starts.
    public static let supervisedSignals = SignalSet([SIGINT, SIGTERM, SIGHUP, SIGCHLD])

    private struct WorkerSlot {
        var index: Int
        var socketPath: String
        var process: ChildProcess?
        var restarts = 0
        var restartAt: Double?
        var lastStart = 0.0
    }

    /// The configuration it runs.
    public let configuration: StackConfiguration
    /// The runtime directory in use.
    public private(set) var runtimeDirectory = ""
    private var ownsRuntimeDirectory = false
    private var workers: [WorkerSlot] = []
    private var nginx: ChildProcess?
    private let log = JSONLineLog(component: "up")

    /// Creates a stack; nothing starts until ``start()``.
    public init(configuration: StackConfiguration) {
        self.configuration = configuration
    }

    /// The shared-memory segment of this stack's workers, named after its runtime directory so
    /// that two stacks on one machine keep separate promises.
    public var segmentName: String {
        "/fullyloaded." + (runtimeDirectory.split(separator: "/").last.map(String.init) ?? "up")
    }

    /// The URL the stack serves.
    public var url: String { "http://127.0.0.1:\(configuration.httpPort)/" }

    /// Starts workers, then nginx, and returns once `/api/ping` answers through nginx.
    /// On failure everything started so far is stopped again.
    public func start(readyTimeout: Double = 20) throws(StackError) {
        guard configuration.workers >= 1 else { throw .invalidConfiguration("--workers must be at least 1") }
        guard LoopbackPort.isFree(configuration.httpPort) else { throw .portInUse(configuration.httpPort) }
        let template = try NginxTemplate(contentsOf: configuration.shareDirectory + "/nginx/up.conf.template")
        do {
            try prepareRuntimeDirectory()
            workers = (0..<configuration.workers).map {
                WorkerSlot(index: $0, socketPath: "\(runtimeDirectory)/worker-\($0).sock")
            }
            for index in workers.indices { try startWorker(index) }
            try waitForWorkerSockets(timeout: readyTimeout)
            try startNginx(template: template)
            try waitForPing(timeout: readyTimeout)
            log.event("ready", [("url", .string(url)), ("workers", .int(configuration.workers))])
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
            let signal = Self.supervisedSignals.wait(timeout: 0.2)
            if signal == SIGINT || signal == SIGTERM {
                log.event("stop requested", [("signal", .int(Int(signal ?? 0)))])
                return
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
        for index in workers.indices {
            if let process = workers[index].process {
                _ = try? process.stop(signal: SIGTERM, grace: 10)
                workers[index].process = nil
            }
        }
        if !runtimeDirectory.isEmpty { SharedSegment.unlink(name: segmentName) }
        if ownsRuntimeDirectory, !runtimeDirectory.isEmpty {
            try? FileManager.default.removeItem(atPath: runtimeDirectory)
            ownsRuntimeDirectory = false
        }
        log.event("stopped")
    }

    /// The pids of the running workers, by index.
    public var workerProcessIDs: [Int32] { workers.compactMap { $0.process?.pid } }

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
        // nginx's worker processes (nobody, when started as root) connect to sockets in here.
        chmod(runtimeDirectory, 0o755)
        let temporary = runtimeDirectory + "/nginx-tmp"
        try? FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        if geteuid() == 0, let nobody = getpwnam("nobody") {
            chown(temporary, nobody.pointee.pw_uid, nobody.pointee.pw_gid)
        }
    }

    private var workerArguments: [String] {
        [
            "--cost", "\(configuration.cost)", "--min-cost", "\(configuration.minimumCost)",
            "--max-cost", "\(configuration.maximumCost)", "--threads", "\(configuration.requestThreads)",
            "--exit-with-parent", "--shm-name", segmentName,
        ] + configuration.workerOptions
    }

    private func startWorker(_ index: Int) throws(StackError) {
        do {
            let process = try ChildProcess.spawn(
                executable: configuration.executable,
                arguments: ["worker", "--listen", "unix:\(workers[index].socketPath)"] + workerArguments,
                standardOutput: "\(runtimeDirectory)/worker-\(index).log")
            workers[index].process = process
            workers[index].lastStart = MonotonicClock.now
            workers[index].restartAt = nil
            log.event("worker started", [("index", .int(index)), ("worker_pid", .int(Int(process.pid)))])
        } catch {
            throw .system(error)
        }
    }

    private func waitForWorkerSockets(timeout: Double) throws(StackError) {
        let deadline = MonotonicClock.now + timeout
        for worker in workers {
            while true {
                if let status = try reap(worker.process) {
                    throw .childFailed(
                        name: "worker \(worker.index)", status: status, logTail: tail(of: "worker-\(worker.index).log"))
                }
                if let socket = try? SocketEndpoint.unix(path: worker.socketPath).connect(timeout: 1) {
                    socket.close()
                    break
                }
                if MonotonicClock.now > deadline {
                    throw .notReady(
                        name: "worker \(worker.index)", seconds: timeout,
                        logTail: tail(of: "worker-\(worker.index).log"))
                }
                usleep(20_000)
            }
        }
    }

    private func startNginx(template: NginxTemplate) throws(StackError) {
        let servers = workers.map {
            "        server unix:\($0.socketPath) max_conns=\(configuration.upstreamMaximumConnections);"
        }.joined(separator: "\n")
        let rendered = try template.render([
            "RUNTIME_DIR": runtimeDirectory,
            "SHARE_DIR": configuration.shareDirectory,
            "HTTP_PORT": "\(configuration.httpPort)",
            "UPSTREAM_SERVERS": servers,
            "UPSTREAM_KEEPALIVE": "\(configuration.upstreamKeepalive)",
            "FASTCGI_TIMEOUT": "\(configuration.fastCGITimeoutMilliseconds)ms",
            "USER_DIRECTIVE": geteuid() == 0 ? "user nobody nogroup;" : "",
        ])
        let configPath = runtimeDirectory + "/nginx.conf"
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
        log.event("nginx started", [("nginx_pid", .int(Int(nginx!.pid))), ("config", .string(configPath))])
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
            log.event("nginx exited", [("status", .string(status.description))])
            throw .childFailed(name: "nginx", status: status, logTail: tail(of: "nginx-error.log"))
        }
        let now = MonotonicClock.now
        for index in workers.indices {
            if let status = try reap(workers[index].process) {
                workers[index].process = nil
                workers[index].restarts += 1
                // Back off when a worker keeps dying soon after starting: 0.1 s, doubling, at most 5 s.
                let ranFor = now - workers[index].lastStart
                let delay = ranFor > 10 ? 0.1 : min(5, 0.1 * pow(2, Double(min(workers[index].restarts, 6))))
                workers[index].restartAt = now + delay
                log.event(
                    "worker crashed",
                    [
                        ("index", .int(index)), ("status", .string(status.description)),
                        ("restarts", .int(workers[index].restarts)), ("restart_in", .double(delay)),
                    ])
            }
            if workers[index].process == nil, let at = workers[index].restartAt, at <= now {
                try startWorker(index)
            }
        }
    }

    private func tail(of name: String) -> String {
        guard let text = try? String(contentsOfFile: runtimeDirectory + "/" + name, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(8).joined(separator: "\n")
    }
}
