import Foundation
import Logging
import POSIXSupport

// The supervision loop: carries out what `Supervisor` decides.
extension Stack {
    /// Supervises until SIGINT or SIGTERM: restarts children that end, replaces workers one at a
    /// time on SIGHUP and when they recycle (``Supervisor`` decides; this loop carries it out),
    /// and stops the stack if nginx dies. Returns the stack stopped.
    public func superviseUntilStopped() throws(StackError) {
        defer { stop() }
        let children = workers.map { ($0, true) } + monitors.map { ($0, false) }
        var state = Supervisor(
            running: children.map { (name: $0.0.name, isWorker: $0.1, pid: $0.0.process?.pid ?? 0) },
            now: MonotonicClock.now)
        while true {
            let received = Self.supervisedSignals.waitWithSender(timeout: 0.05)
            let now = MonotonicClock.now
            // Each event's actions are carried out before the next event is fed in, so that the
            // state always knows what has been started.
            switch received?.signal {
            case SIGINT, SIGTERM:
                log.info("stop requested", metadata: ["signal": .stringConvertible(Int(received?.signal ?? 0))])
                return
            case SIGHUP:
                log.info("rolling restart", metadata: ["workers": .stringConvertible(workers.count)])
                perform(state.rollingRestartRequested(at: now), on: &state)
            case SIGUSR1:
                // A worker that served --max-requests asks to be replaced.
                if let sender = received?.sender, let index = state.index(ofProcess: sender) {
                    perform(state.recycleRequested(index, at: now), on: &state)
                }
            default:
                break
            }
            if let status = try reap(nginx) {
                nginx = nil
                log.error("nginx exited", metadata: ["status": "\(status.description)"])
                throw .childFailed(name: "nginx", status: status, logTail: tail(of: "nginx-error.log"))
            }
            orphans.removeAll { (try? $0.reapIfEnded()) != nil }
            for index in state.children.indices {
                guard let process = self[child: index].process, let status = try reap(process) else { continue }
                self[child: index].process = nil
                perform(state.exited(index, pid: process.pid, status: status.description, at: now), on: &state)
            }
            for index in state.children.indices {
                guard case .starting = state.children[index].phase else { continue }
                if let socket = try? self[child: index].endpoint.connect(timeout: 0.2) {
                    socket.close()
                    perform(state.listening(index, at: now), on: &state)
                }
            }
            perform(state.tick(at: now), on: &state)
        }
    }

    /// Carries out the supervisor's actions, and feeds back what starting a child gave.
    func perform(_ actions: [Supervisor.Action], on state: inout Supervisor) {
        var pending = actions
        while !pending.isEmpty {
            let action = pending.removeFirst()
            switch action {
            case .start(let index):
                do {
                    let pid = try start(&self[child: index], restarted: state.children[index].restarts > 0)
                    state.started(index, pid: pid, at: MonotonicClock.now)
                } catch {
                    log.error("start failed", metadata: ["child": "\(self[child: index].name)", "error": "\(error)"])
                    pending += state.startFailed(index, at: MonotonicClock.now)
                }
            case .terminate(let index, let pid):
                if let process = self[child: index].process, process.pid == pid { process.send(SIGTERM) }
            case .kill(let index, let pid):
                guard let process = self[child: index].process, process.pid == pid else { break }
                process.send(SIGKILL)
                if state.children[index].pid != pid {
                    // The child no longer stands for it: reaped on the side, the slot is free.
                    orphans.append(process)
                    self[child: index].process = nil
                }
            case .logCrash(let index, let status, let restarts, let delay):
                log.warning(
                    "crashed",
                    metadata: [
                        "child": "\(self[child: index].name)", "status": "\(status)",
                        "restarts": .stringConvertible(restarts), "restart_in": .stringConvertible(delay),
                    ])
            case .logReplaced(let index, let reason):
                log.info("\(reason)", metadata: ["child": "\(self[child: index].name)"])
                if reason == "rolled", !state.isReplacing(reason: "rolled") { log.info("rolling restart done") }
            case .logReplacementFailed(let index, let reason):
                log.warning(
                    "replacement failed", metadata: ["child": "\(self[child: index].name)", "reason": "\(reason)"])
            }
        }
    }

    /// Child `index` of the supervisor: the workers, then the monitors.
    subscript(child index: Int) -> ChildSlot {
        get { index < workers.count ? workers[index] : monitors[index - workers.count] }
        set {
            if index < workers.count { workers[index] = newValue } else { monitors[index - workers.count] = newValue }
        }
    }
}
