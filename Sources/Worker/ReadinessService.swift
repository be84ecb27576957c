import Logging
import POSIXSupport

/// Says that the worker serves (its log's `ready`, systemd's `READY=1`) and, when it stops,
/// that it stops (`STOPPING=1`).
struct ReadinessService: WorkerService {
    init(listen: WorkerConfiguration.Listen, threads: Int, pid: Int32, log: Logger) {
        log.info("ready", metadata: ["listen": "\(listen)", "threads": .stringConvertible(threads)])
        do {
            try SystemdActivation.notify("READY=1\nSTATUS=serving\nMAINPID=\(pid)")
        } catch {
            // Serving matters more than telling: a manager that cannot be told will time us out.
            log.warning("notify failed", metadata: ["error": "\(error.description)"])
        }
    }

    func stop() { _ = try? SystemdActivation.notify("STOPPING=1") }
}
