import Bcrypt
import Dispatch
import Logging
import POSIXSupport
import Synchronization

/// Threads that run bcrypt at a lower CPU priority than request threads and nginx, so that
/// cheap requests keep their latency when every core is busy hashing.
///
/// A request thread that holds a compute slot hands its job here and waits, at most until its
/// deadline. There are as many threads as global slots, so a job with a slot always finds a
/// free thread.
final class ComputePool: Sendable {
    /// What became of a job handed to the pool.
    enum Outcome<Result: Sendable>: Sendable {
        /// It finished in time; `seconds` is how long it ran.
        case finished(Result, seconds: Double)
        /// The deadline came first. bcrypt cannot be interrupted: the job runs to its end on
        /// its thread, and `whenOverrunEnds` is called there with its duration.
        case overran
    }

    final class PendingJob: @unchecked Sendable {
        let work: (BcryptHasher) -> Void
        init(_ work: @escaping (BcryptHasher) -> Void) { self.work = work }
    }

    enum Handoff<Result: Sendable>: Sendable {
        case pending
        case done(Result, Double)
        case abandoned
    }

    private let pending = Mutex<[PendingJob]>([])
    /// Signalled once per job queued, and once per thread at ``stop(waitingAtMost:)``.
    private let available = DispatchSemaphore(value: 0)
    /// Signalled by each thread as it ends.
    private let ended = DispatchSemaphore(value: 0)
    private let threadCount = Atomic<Int>(0)
    /// This process's admitted jobs that a batch may take, and the batches that left members behind.
    let batches = Mutex<BatchTable>(BatchTable())

    /// Starts `threads` compute threads at `niceness` (0 = same priority as requests).
    init(threads: Int, niceness: Int32, log: Logger) throws(SystemCallError) {
        for index in 0..<threads {
            try PlatformThread.startDetached(name: "compute-\(index)") { [self] in
                do throws(SystemCallError) {
                    if niceness != 0 { try PlatformThread.setCurrentThreadNiceness(niceness) }
                } catch {
                    log.warning("compute priority not set", metadata: ["error": "\(error)"])
                }
                let hasher = BcryptHasher()
                while true {
                    available.wait()
                    // Every job's signal comes after the job: a signal with none left is a stop.
                    guard let task = pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { break }
                    task.work(hasher)
                }
                ended.signal()
            }
            threadCount.add(1, ordering: .relaxed)
        }
    }

    /// Ends the threads once the jobs already queued have run, and waits for them at most
    /// `seconds` (a job that overran its deadline still runs): whether they all ended. Call it
    /// once, after nothing submits any more.
    func stop(waitingAtMost seconds: Double) -> Bool {
        let threads = threadCount.load(ordering: .relaxed)
        for _ in 0..<threads { available.signal() }
        let deadline = DispatchTime.now() + .nanoseconds(Int(max(0, seconds) * 1e9))
        for _ in 0..<threads {
            if ended.wait(timeout: deadline) == .timedOut { return false }
        }
        return true
    }

    /// Queues `task` for the next free compute thread.
    func submit(_ task: PendingJob) {
        pending.withLock { $0.append(task) }
        available.signal()
    }

    /// Runs `work` on a compute thread and waits for it until `deadline` (monotonic seconds).
    func run<Result: Sendable>(
        until deadline: Double,
        _ work: @escaping @Sendable (BcryptHasher) -> Result,
        whenOverrunEnds: @escaping @Sendable (Double) -> Void
    ) -> Outcome<Result> {
        let handoff = Mutex<Handoff<Result>>(.pending)
        let done = DispatchSemaphore(value: 0)
        let task = PendingJob { hasher in
            let started = MonotonicClock.now
            let result = work(hasher)
            let seconds = MonotonicClock.now - started
            let abandoned = handoff.withLock { state -> Bool in
                if case .abandoned = state { return true }
                state = .done(result, seconds)
                return false
            }
            if abandoned { whenOverrunEnds(seconds) } else { done.signal() }
        }
        submit(task)
        let remaining = max(0, deadline - MonotonicClock.now)
        _ = done.wait(timeout: .now() + .nanoseconds(Int(remaining * 1e9)))
        return handoff.withLock { state in
            if case .done(let result, let seconds) = state { return .finished(result, seconds: seconds) }
            state = .abandoned
            return .overran
        }
    }
}
