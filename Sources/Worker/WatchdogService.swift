import POSIXSupport

/// Tells systemd the worker is alive (`WatchdogSec=`), a few times per watchdog interval, while
/// its heartbeat gets through the shared segment's lock: systemd restarts a worker that hangs
/// whole, or whose heartbeat is stuck. Nothing runs without a watchdog asked for.
struct WatchdogService: WorkerService {
    private let thread: PeriodicThread?

    /// Starts pinging when systemd asked for a watchdog; `progress`: the heartbeat's mark, or
    /// `nil` without admission (then being alive is enough).
    init(progress: ProgressMark?) throws(SystemCallError) {
        guard let interval = SystemdActivation.watchdogPingInterval else {
            thread = nil
            return
        }
        thread = try PeriodicThread(name: "watchdog", interval: interval) {
            if progress?.isRecent(within: max(interval, 1)) ?? true {
                _ = try? SystemdActivation.notify("WATCHDOG=1")
            }
        }
    }

    func stop() { thread?.stop() }
}
