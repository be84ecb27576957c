import CommandLineOptions
import Foundation
import Logging
import POSIXSupport

// The workers and monitors `up` starts: their arguments, sockets, start and readiness.
extension Stack {
    /// A worker's options on `host`: the stack's own choices over the options every worker gets.
    func workerOptions(host: Int) -> WorkerOptions {
        var options = configuration.worker
        options.threads = configuration.threadsPerWorker
        options.execution = configuration.architecture.execution
        options.exitWithParent = true
        options.segment = segmentPath(host: host)
        options.costs.pepperFile = configuration.pepperKeys == nil ? nil : pepperPath
        // --max-requests, with the worker asking `up` to replace it (SIGUSR1) rather than exiting:
        // `up` replaces one at a time, where workers exiting by themselves could all go at once.
        if let limit = configuration.maximumRequests {
            options.maxRequests = limit
            options.maxRequestsJitter = max(1, limit / 10)
            options.recycleByParent = true
        }
        return options
    }

    /// The workers' copy of the pepper file, made by ``writePepperFile()``.
    var pepperPath: String { runtimeDirectory + "/pepper" }

    /// Writes the pepper keys for the workers: this user's, 0600, made afresh.
    func writePepperFile() throws(StackError) {
        guard let keys = configuration.pepperKeys else { return }
        let path = pepperPath
        let bytes = Array(keys.utf8)
        unlink(path)
        do throws(SystemCallError) {
            let descriptor = try systemCall("open(\(path))") {
                open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            defer { close(descriptor) }
            let written = try systemCall("write(\(path))") {
                bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            }
            // A few hundred bytes to a new file on tmpfs: all or an error.
            guard written == bytes.count else { throw SystemCallError(call: "write(\(path))", errno: EIO) }
        } catch {
            throw .system(error)
        }
    }

    /// Where the first host's monitor listens; nginx proxies /ws and /metrics there.
    var monitorSocketPath: String { runtimeDirectory + "/monitor.sock" }

    /// The ports nginx will bind once the workers are up.
    var nginxPorts: Set<UInt16> { Set([configuration.httpPort] + (configuration.httpsPort.map { [$0] } ?? [])) }

    /// The workers of every host. One host: unix sockets in the runtime directory. Several
    /// (a rehearsal of a multi-host setup): TCP on loopback, as workers on other hosts would be.
    func makeWorkerSlots() throws(StackError) -> [ChildSlot] {
        var slots: [ChildSlot] = []
        for host in 0..<configuration.hosts {
            for index in 0..<configuration.workerCount {
                let name = configuration.hosts == 1 ? "worker \(index)" : "host \(host) worker \(index)"
                let file = configuration.hosts == 1 ? "worker-\(index)" : "host-\(host)-worker-\(index)"
                if configuration.hosts == 1 {
                    let endpoint = SocketEndpoint.unix(path: "\(runtimeDirectory)/\(file).sock")
                    slots.append(
                        ChildSlot(
                            name: name, logName: "\(file).log", endpoint: endpoint,
                            arguments: ["worker", "--listen", "\(endpoint)"] + workerOptions(host: host).arguments))
                    continue
                }
                // TCP, as on other hosts: the port is bound here, once, and each start of the
                // worker inherits it (descriptor 3). Never nginx's ports, which are not bound yet.
                do throws(SystemCallError) {
                    let listener = try LoopbackPort.listener(avoiding: nginxPorts, backlog: 4096)
                    let port: UInt16
                    do { port = try listener.boundPort() } catch {
                        listener.close()
                        throw error
                    }
                    let endpoint = SocketEndpoint.tcp(host: "127.0.0.1", port: port)
                    slots.append(
                        ChildSlot(
                            name: name, logName: "\(file).log", endpoint: endpoint,
                            arguments: ["worker", "--listen", "fd:3"] + workerOptions(host: host).arguments,
                            listener: listener))
                } catch {
                    for slot in slots { slot.listener?.close() }
                    throw .system(error)
                }
            }
        }
        return slots
    }

    /// A monitor per host, on its segment; the first lists the others as peers for the dashboard.
    func makeMonitorSlots() -> [ChildSlot] {
        let sockets = (0..<configuration.hosts).map {
            $0 == 0 ? monitorSocketPath : runtimeDirectory + "/monitor-\($0).sock"
        }
        return (0..<configuration.hosts).map { host in
            var options = MonitorOptions.defaults
            options.segment = segmentPath(host: host)
            options.pingPort = configuration.httpPort
            options.cost = configuration.cost
            options.architecture = configuration.architecture.rawValue
            options.exitWithParent = true
            options.hostName = configuration.hosts > 1 ? "host \(host)" : "localhost"
            if host == 0 && configuration.hosts > 1 {
                options.peer = sockets.enumerated().dropFirst().map { "host \($0.offset)=unix:\($0.element)" }
            }
            return ChildSlot(
                name: host == 0 ? "monitor" : "host \(host) monitor",
                logName: host == 0 ? "monitor.log" : "monitor-\(host).log",
                endpoint: .unix(path: sockets[host]),
                arguments: ["monitor", "--listen", "unix:\(sockets[host])"] + options.arguments)
        }
    }

    @discardableResult
    func start(_ child: inout ChildSlot, restarted: Bool = false) throws(StackError) -> Int32 {
        do {
            let process = try ChildProcess.spawn(
                executable: configuration.executable, arguments: child.arguments,
                standardOutput: "\(runtimeDirectory)/\(child.logName)",
                inheritedDescriptors: child.listener.map { [$0.rawValue] } ?? [], newSession: childrenNeedSessions)
            child.process = process
            log.info(
                restarted ? "restarted" : "started",
                metadata: ["child": "\(child.name)", "child_pid": .stringConvertible(Int(process.pid))])
            return process.pid
        } catch {
            throw .system(error)
        }
    }

    func waitForSockets(of children: [ChildSlot], timeout: Double) throws(StackError) {
        let deadline = MonotonicClock.now + timeout
        for child in children {
            while true {
                if let status = try reap(child.process) {
                    throw .childFailed(name: child.name, status: status, logTail: tail(of: child.logName))
                }
                if child.listener != nil {
                    // Its socket is ours and accepts from the start: ready is what it says.
                    let log =
                        (try? String(contentsOfFile: runtimeDirectory + "/" + child.logName, encoding: .utf8)) ?? ""
                    if log.contains(#""event":"ready""#) { break }
                } else if let socket = try? child.endpoint.connect(timeout: 1) {
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

    func reap(_ process: ChildProcess?) throws(StackError) -> ExitStatus? {
        guard let process else { return nil }
        do {
            return try process.reapIfEnded()
        } catch {
            throw .system(error)
        }
    }

    func tail(of name: String) -> String {
        guard let text = try? String(contentsOfFile: runtimeDirectory + "/" + name, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(8).joined(separator: "\n")
    }
}
