import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The POSIX shared-memory segment that every worker of a host maps: the global job queue,
/// the service-time estimate, counters and the worker table (layout in `CSharedState.h`).
///
/// Opening is serialised by an flock on a sidecar object, so that one process creates and
/// initialises the segment while the others wait; a segment of another layout version, of the
/// wrong size, or left half-initialised by a creator that died is replaced, and said so.
public final class SharedSegment: @unchecked Sendable {
    /// The shared-memory object's name, e.g. `/fullyloaded`.
    public let name: String
    let pointer: UnsafeMutablePointer<fl_segment>

    /// The size every process must agree on.
    public static let size = MemoryLayout<fl_segment>.size
    /// The layout version this binary writes.
    public static let version = FL_SEGMENT_VERSION

    /// What opening found.
    public enum OpenOutcome: Equatable, Sendable {
        case created
        case attached
        case replaced(reason: String)
    }

    /// How this process came to use the segment.
    public let outcome: OpenOutcome

    /// Opens `name`, creating it with `slots`, `deadline` and `initialEstimate` if it does not
    /// exist; an existing valid segment takes this process's `slots` and `deadline`.
    public init(name: String, slots: Int, deadline: Double, initialEstimate: ServiceTimeEstimate)
        throws(SystemCallError)
    {
        self.name = name
        let lock = try systemCall("shm_open(\(name).lock)") {
            shm_open(name + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        }
        defer { close(lock) }
        try systemCall("flock(\(name).lock)") { flock(lock, LOCK_EX) }
        defer { flock(lock, LOCK_UN) }

        var (descriptor, existingSize) = try Self.openObject(name)
        var outcome = OpenOutcome.attached
        if existingSize != 0 && existingSize != Self.size {
            outcome = .replaced(reason: "size \(existingSize) bytes, expected \(Self.size)")
        }
        var mapped: UnsafeMutablePointer<fl_segment>?
        if existingSize == Self.size {
            let candidate = try Self.map(descriptor)
            if let problem = Self.problem(with: candidate) {
                munmap(candidate, Self.size)
                outcome = .replaced(reason: problem)
            } else {
                mapped = candidate
            }
        }
        if case .replaced = outcome {
            // Processes still mapping the old segment keep it; it disappears with them.
            close(descriptor)
            shm_unlink(name)
            (descriptor, existingSize) = try Self.openObject(name)
        }
        if mapped == nil {
            try systemCall("ftruncate(\(name))") { ftruncate(descriptor, off_t(Self.size)) }
            let fresh = try Self.map(descriptor)
            try Self.initialise(fresh, slots: slots, deadline: deadline, estimate: initialEstimate)
            mapped = fresh
            if case .attached = outcome { outcome = .created }
        }
        close(descriptor)
        pointer = mapped!
        self.outcome = outcome
        withLock { segment in
            segment.slots = UInt32(max(1, slots))
            segment.deadline_ns = Int64(deadline * 1e9)
        }
    }

    private init(name: String, pointer: UnsafeMutablePointer<fl_segment>) {
        self.name = name
        self.pointer = pointer
        self.outcome = .attached
    }

    /// Maps an existing, valid segment without changing it (the monitor's view); `nil` when there
    /// is none yet or it is not one this binary can read.
    public static func attach(name: String) -> SharedSegment? {
        let descriptor = shm_open(name, O_RDWR | O_CLOEXEC, 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) == size,
            let mapped = try? map(descriptor)
        else { return nil }
        guard problem(with: mapped) == nil else {
            munmap(mapped, size)
            return nil
        }
        return SharedSegment(name: name, pointer: mapped)
    }

    deinit {
        munmap(pointer, Self.size)
    }

    /// Removes the named segment (and its lock object); processes mapping it keep their mapping.
    public static func unlink(name: String) {
        shm_unlink(name)
        shm_unlink(name + ".lock")
    }

    /// Runs `body` with the segment locked. A lock left by a process that died holding it is
    /// taken over; the worker sweep then puts its jobs right.
    @discardableResult
    func withLock<Result>(_ body: (inout fl_segment) -> Result) -> Result {
        let status = fl_segment_lock(pointer)
        precondition(status == 0 || status == 1, "pthread_mutex_lock on the shared segment failed: \(status)")
        defer { fl_segment_unlock(pointer) }
        return body(&pointer.pointee)
    }

    /// The futex word bumped whenever a slot may have become free.
    var generation: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(pointer).advanced(by: MemoryLayout<fl_segment>.offset(of: \fl_segment.generation)!)
            .assumingMemoryBound(to: UInt32.self)
    }

    private static func openObject(_ name: String) throws(SystemCallError) -> (Int32, Int) {
        let descriptor = try systemCall("shm_open(\(name))") { shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        var status = stat()
        try systemCall("fstat(\(name))") { fstat(descriptor, &status) }
        return (descriptor, Int(status.st_size))
    }

    private static func map(_ descriptor: Int32) throws(SystemCallError) -> UnsafeMutablePointer<fl_segment> {
        guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), raw != MAP_FAILED else {
            throw SystemCallError(call: "mmap(shared segment)", errno: errno)
        }
        return raw.assumingMemoryBound(to: fl_segment.self)
    }

    private static func problem(with segment: UnsafeMutablePointer<fl_segment>) -> String? {
        let header = segment.pointee
        if header.magic != FL_SEGMENT_MAGIC { return "no fullyloaded segment (magic \(header.magic))" }
        if header.version != FL_SEGMENT_VERSION {
            return "layout version \(header.version), expected \(FL_SEGMENT_VERSION)"
        }
        if header.size != UInt32(size) { return "recorded size \(header.size), expected \(size)" }
        if fl_load_acquire(&segment.pointee.ready) != 1 { return "left half-initialised by a process that died" }
        if header.slots == 0 || !(header.unit_seconds.isFinite && header.unit_seconds > 0) {
            return "corrupt (slots \(header.slots), unit \(header.unit_seconds))"
        }
        return nil
    }

    private static func initialise(
        _ segment: UnsafeMutablePointer<fl_segment>, slots: Int, deadline: Double, estimate: ServiceTimeEstimate
    ) throws(SystemCallError) {
        memset(segment, 0, size)
        try systemCallReturningError("pthread_mutex_init(shared segment)") { fl_segment_init_lock(segment) }
        segment.pointee.magic = FL_SEGMENT_MAGIC
        segment.pointee.version = FL_SEGMENT_VERSION
        segment.pointee.size = UInt32(size)
        segment.pointee.slots = UInt32(max(1, slots))
        segment.pointee.deadline_ns = Int64(deadline * 1e9)
        segment.pointee.unit_seconds = estimate.unitSeconds
        segment.pointee.estimate_samples = UInt64(estimate.samples)
        segment.pointee.next_ticket = 1
        fl_store_release(&segment.pointee.ready, 1)
    }
}
