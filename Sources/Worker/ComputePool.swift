import Bcrypt
import Dispatch
import POSIXSupport
import Synchronization

/// Threads that run bcrypt at a lower CPU priority than request threads and nginx, so that
/// cheap requests keep their latency when every core is busy hashing.
///
/// A request thread that holds a compute slot hands its job here and waits. There are as many
/// threads as global slots, so a job with a slot always finds a free thread.
final class ComputePool: Sendable {
    private final class Task: @unchecked Sendable {
        let work: (BcryptHasher) -> Void
        let done = DispatchSemaphore(value: 0)
        init(_ work: @escaping (BcryptHasher) -> Void) { self.work = work }
    }

    private let pending = Mutex<[Task]>([])
    private let available = DispatchSemaphore(value: 0)

    /// Starts `threads` compute threads at `niceness` (0 = same priority as requests).
    init(threads: Int, niceness: Int32, log: JSONLineLog) throws(SystemCallError) {
        for index in 0..<threads {
            try PlatformThread.startDetached(name: "compute-\(index)") { [self] in
                do {
                    if niceness != 0 { try PlatformThread.setCurrentThreadNiceness(niceness) }
                } catch {
                    log.event("compute priority not set", [("error", .string("\(error)"))])
                }
                let hasher = BcryptHasher()
                while true {
                    available.wait()
                    let task = pending.withLock { $0.removeFirst() }
                    task.work(hasher)
                    task.done.signal()
                }
            }
        }
    }

    /// Runs `work` on a compute thread and returns its result with the seconds it took there.
    func run<Result: Sendable>(_ work: @escaping @Sendable (BcryptHasher) -> Result) -> (Result, seconds: Double) {
        let box = Mutex<(Result, Double)?>(nil)
        let task = Task { hasher in
            let started = MonotonicClock.now
            let result = work(hasher)
            box.withLock { $0 = (result, MonotonicClock.now - started) }
        }
        pending.withLock { $0.append(task) }
        available.signal()
        task.done.wait()
        return box.withLock { $0! }
    }
}
