// Longer than most files: the segment's one class: opening it (create, attach or replace under the flock), its locked and read-only views, and the futex waits and wake-ups on it; the checks of an existing file are in SharedSegment+Opening.
import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The shared segment that every worker of a host maps: the global job queue, the service-time
/// estimate, counters and the worker table (layout in `CSharedState.h`). It is a file in a
/// directory only the service's user (or root) may write, on tmpfs in practice (`/run/…`), never
/// in world-writable `/dev/shm`, where any local user could take its name first.
///
/// Opening is serialised by an flock on a sidecar file, so that one process creates and
/// initialises the segment while the others wait; a segment of another layout version, of the
/// wrong size, or left half-initialised by a creator that died is replaced, and said so. Nothing
/// in it is trusted before it is checked: a directory others may write, or a file another user
/// owns or others may write, is refused outright, and every value read back is range-checked
/// where it is used.
///
/// Sendable by hand: the mapping is shared with other processes anyway, and every access goes
/// through its lock (``withLockedView(_:)``) or an atomic (the futex words, the ping counters).
public final class SharedSegment: @unchecked Sendable {
    /// The segment's file, e.g. `/run/fullyloaded/segment/admission`.
    public let path: String
    /// The mapping, unmapped when the segment ends.
    private let mapping: SegmentMapping
    private var pointer: UnsafeMutablePointer<fl_segment> { mapping.pointer }
    /// Bytes mapped.
    public var size: Int { mapping.size }
    /// Entries in the job ring.
    public let jobCapacity: Int

    /// The layout version this binary writes.
    public static let version = FL_SEGMENT_VERSION
    /// Compute slots one segment can describe.
    public static let maximumSlots = Int(FL_MAX_SLOTS)
    /// Bcrypt costs the waiting counts keep apart (higher ones share them modulo this).
    public static let costClasses = Int(FL_COST_CLASSES)
    /// The most jobs one compute slot runs together as a batch.
    public static let maximumBatch = Int(FL_MAX_BATCH)
    /// Buckets of the per-process waiting counts (a pid counts in `pid % processBuckets`).
    public static let processBuckets = Int(FL_PROCESS_BUCKETS)
    /// argon2id parameter sets the queue tells apart at once (job classes `0..<argon2Classes`).
    public static let argon2Classes = Int(FL_ARGON2_CLASSES)
    /// The job ring's bounds: never smaller than the first, never larger than the second.
    public static let jobCapacityRange = 1024...(1 << 20)

    /// What opening found.
    public enum OpenOutcome: Equatable, Sendable {
        case created
        case attached
        case replaced(reason: String)
    }

    /// How this process came to use the segment.
    public let outcome: OpenOutcome

    /// Opens the segment at `path`, creating it with `slots`, `deadline`, `initialEstimate` and
    /// a job ring of `jobCapacity` entries if it does not exist; an existing valid segment keeps
    /// its ring and takes this process's `slots`, `deadline`, `lanes` (the most jobs one slot
    /// runs together) and `memoryBudgetKiB` (the most memory running jobs hold together; 0: no
    /// bound). `argon2UnitSeconds` (seconds of argon2id per KiB and pass) is taken until argon2id
    /// jobs have taught the segment their own.
    public init(
        path: String, slots: Int, deadline: Double, initialEstimate: ServiceTimeEstimate,
        jobCapacity requested: Int = SharedSegment.jobCapacityRange.lowerBound, lanes: Int = 1,
        memoryBudgetKiB: Int = 0, argon2UnitSeconds: Double = 1e-8
    ) throws(SystemCallError) {
        self.path = path
        let (directoryPath, name) = try Self.splitPath(path)
        let directory = try Self.openDirectory(directoryPath)
        defer { directory.close() }
        let lock = try Self.openObject(name + ".lock", in: directory).descriptor
        defer { lock.close() }
        try systemCall("flock(\(path).lock)") { flock(lock.rawValue, LOCK_EX) }
        defer { flock(lock.rawValue, LOCK_UN) }

        var object = try Self.openObject(name, in: directory)
        defer { object.descriptor.close() }
        var outcome = OpenOutcome.attached
        var problem: String?
        var found: SegmentMapping? = nil
        if object.size != 0 {
            found = try SegmentMapping.mapIfValid(
                object.descriptor, size: object.size, readOnly: false, problem: &problem)
        }
        if let problem {
            // Processes still mapping the old segment keep it; it disappears with them.
            outcome = .replaced(reason: problem)
            object.descriptor.close()
            unlinkat(directory.rawValue, name, 0)
            object = try Self.openObject(name, in: directory)
        }
        if let existing = found.take() {
            mapping = existing
        } else {
            let capacity = min(max(requested, Self.jobCapacityRange.lowerBound), Self.jobCapacityRange.upperBound)
            let size = Int(fl_segment_size(UInt32(capacity)))
            let descriptor = object.descriptor
            try systemCall("ftruncate(\(path))") { ftruncate(descriptor.rawValue, off_t(size)) }
            let fresh = try SegmentMapping(descriptor, size: size, readOnly: false)
            try Self.initialise(
                fresh.pointer, size: size, capacity: capacity, slots: slots, deadline: deadline,
                estimate: initialEstimate)
            mapping = fresh
            if case .attached = outcome { outcome = .created }
        }
        jobCapacity = Self.jobCapacity(ofMapping: mapping.size)
        self.outcome = outcome
        isReadOnly = false
        withLockedView {
            $0.configure(
                slots: slots, deadline: deadline, lanes: lanes, memoryBudgetKiB: memoryBudgetKiB,
                argon2UnitSeconds: argon2UnitSeconds)
        }
    }

    /// Whether this process maps the segment read-only (``attach(path:)``).
    public let isReadOnly: Bool

    private init(path: String, readOnly mapping: consuming SegmentMapping) {
        self.path = path
        self.jobCapacity = Self.jobCapacity(ofMapping: mapping.size)
        self.mapping = mapping
        self.outcome = .attached
        isReadOnly = true
    }

    /// Maps an existing, valid segment read-only (the monitor's view): this process can never
    /// change it, nor take its lock. `nil` when there is none yet, it is not one this binary can
    /// read, or it or its directory is not this user's alone.
    public static func attach(path: String) -> SharedSegment? {
        guard let (directoryPath, name) = try? splitPath(path),
            let directory = try? openDirectory(directoryPath)
        else { return nil }
        defer { directory.close() }
        guard let (descriptor, size) = try? openObject(name, in: directory, create: false, readOnly: true) else {
            return nil
        }
        defer { descriptor.close() }
        var problem: String?
        guard let mapping = try? SegmentMapping.mapIfValid(descriptor, size: size, readOnly: true, problem: &problem)
        else { return nil }
        return SharedSegment(path: path, readOnly: mapping)
    }

    /// Runs `body` on a view for reading: the segment locked, or, mapped read-only, a private copy
    /// of it taken without the lock. The copy may catch the workers mid-change; every value in it
    /// is checked where it is used, as any value read back is, so a reading may be off, never
    /// out of bounds.
    func withReadableView<Result>(_ body: (SegmentView) -> Result) -> Result {
        guard isReadOnly else { return withLockedView { body($0) } }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { copy.deallocate() }
        memcpy(copy, pointer, size)
        return body(SegmentView(locked: copy.assumingMemoryBound(to: fl_segment.self), capacity: UInt32(jobCapacity)))
    }

    /// The job ring a mapping of `size` bytes holds: what the mapping says, not the header field,
    /// which another process may rewrite after it was checked.
    static func jobCapacity(ofMapping size: Int) -> Int {
        let header = Int(fl_segment_size(0))
        return max(1, (size - header) / (Int(fl_segment_size(1)) - header))
    }

    /// The client table's hash key (written once, before the segment was marked ready).
    var keySeed: UInt64 { pointer.pointee.key_seed }

    /// Removes the segment at `path` (and its lock file); processes mapping it keep their mapping.
    public static func unlink(path: String) {
        Glibc.unlink(path)
        Glibc.unlink(path + ".lock")
    }

    /// Runs `body` with the segment locked, on its Swift view. A lock left by a process that
    /// died holding it is taken over; the worker sweep then puts its jobs right.
    @discardableResult
    func withLockedView<Result>(_ body: (inout SegmentView) -> Result) -> Result {
        precondition(!isReadOnly, "the segment is mapped read-only")
        let status = fl_segment_lock(pointer)
        precondition(status == 0 || status == 1, "pthread_mutex_lock on the shared segment failed: \(status)")
        defer { fl_segment_unlock(pointer) }
        var view = SegmentView(locked: pointer, capacity: UInt32(jobCapacity))
        return body(&view)
    }

    /// Sleeps until the waiter of `ticket` is handed its slot, at most `timeout` seconds;
    /// returns whether it was (read without the lock: the word is set last as the slot is handed over).
    func waitForGrant(ticket: UInt64, timeout: Double) -> Bool {
        let word = fl_segment_granted(pointer, ticket, UInt32(jobCapacity))
        _ = fl_futex_wait(word, 0, SegmentView.nanoseconds(timeout) + 1)
        return fl_load_acquire(word) == 1
    }

    /// Wakes the waiters that were just handed a slot: one wake-up each, nobody else.
    func wakeGranted(_ tickets: WakeList) {
        guard !tickets.isEmpty else { return }
        fl_increment(fl_segment_generation(pointer))
        let capacity = UInt32(jobCapacity)
        tickets.forEachTicket { _ = fl_futex_wake(fl_segment_granted(pointer, $0, capacity), 1) }
    }

    /// Counts one cheap request answered by the worker at `index` in the table, without the lock.
    @inline(__always)
    func countPing(worker index: Int) {
        fl_count(fl_segment_worker_pings(pointer, UInt32(truncatingIfNeeded: index)))
    }
}
