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
/// wrong size, or left half-initialised by a creator that died is replaced, and said so. Nothing
/// in it is trusted before it is checked: an object another user owns, or that others may
/// write, is refused outright, and every value read back is range-checked where it is used.
public final class SharedSegment: @unchecked Sendable {
    /// The shared-memory object's name, e.g. `/fullyloaded`.
    public let name: String
    let pointer: UnsafeMutablePointer<fl_segment>
    /// Bytes mapped.
    public let size: Int
    /// Entries in the job ring.
    public let jobCapacity: Int

    /// The layout version this binary writes.
    public static let version = FL_SEGMENT_VERSION
    /// Compute slots one segment can describe.
    public static let maximumSlots = Int(FL_MAX_SLOTS)
    /// The job ring's bounds: never smaller than the first, never larger than the second.
    public static let jobCapacityRange = 1024...(1 << 20)

    /// The job ring a host needs: room for every job the promise can admit within N at the
    /// shortest service time, twice over (jobs refused at their deadline keep a ticket until
    /// then), within ``jobCapacityRange``.
    public static func jobCapacity(slots: Int, deadline: Double, shortestServiceSeconds: Double) -> Int {
        guard shortestServiceSeconds > 0, deadline.isFinite, deadline > 0 else { return jobCapacityRange.upperBound }
        let admissible = Double(max(1, slots)) * deadline / shortestServiceSeconds
        return Int(min(Double(jobCapacityRange.upperBound), max(Double(jobCapacityRange.lowerBound), 2 * admissible)))
    }

    /// What opening found.
    public enum OpenOutcome: Equatable, Sendable {
        case created
        case attached
        case replaced(reason: String)
    }

    /// How this process came to use the segment.
    public let outcome: OpenOutcome

    /// Opens `name`, creating it with `slots`, `deadline`, `initialEstimate` and a job ring of
    /// `jobCapacity` entries if it does not exist; an existing valid segment keeps its ring and
    /// takes this process's `slots` and `deadline`.
    public init(
        name: String, slots: Int, deadline: Double, initialEstimate: ServiceTimeEstimate,
        jobCapacity requested: Int = SharedSegment.jobCapacityRange.lowerBound
    ) throws(SystemCallError) {
        self.name = name
        let (lock, _) = try Self.openObject(name + ".lock")
        defer { close(lock) }
        try systemCall("flock(\(name).lock)") { flock(lock, LOCK_EX) }
        defer { flock(lock, LOCK_UN) }

        var (descriptor, existingSize) = try Self.openObject(name)
        var outcome = OpenOutcome.attached
        var mapped: (UnsafeMutablePointer<fl_segment>, Int)?
        if existingSize != 0 {
            if existingSize < MemoryLayout<fl_segment>.size {
                outcome = .replaced(reason: "size \(existingSize) bytes, smaller than the header")
            } else {
                let candidate = try Self.map(descriptor, size: existingSize)
                if let problem = Self.problem(with: candidate, size: existingSize) {
                    munmap(candidate, existingSize)
                    outcome = .replaced(reason: problem)
                } else {
                    mapped = (candidate, existingSize)
                }
            }
        }
        if case .replaced = outcome {
            // Processes still mapping the old segment keep it; it disappears with them.
            close(descriptor)
            shm_unlink(name)
            (descriptor, existingSize) = try Self.openObject(name)
        }
        if mapped == nil {
            let capacity = min(max(requested, Self.jobCapacityRange.lowerBound), Self.jobCapacityRange.upperBound)
            let size = Int(fl_segment_size(UInt32(capacity)))
            try systemCall("ftruncate(\(name))") { ftruncate(descriptor, off_t(size)) }
            let fresh = try Self.map(descriptor, size: size)
            try Self.initialise(
                fresh, size: size, capacity: capacity, slots: slots, deadline: deadline, estimate: initialEstimate)
            mapped = (fresh, size)
            if case .attached = outcome { outcome = .created }
        }
        close(descriptor)
        pointer = mapped!.0
        size = mapped!.1
        jobCapacity = Int(pointer.pointee.job_capacity)
        self.outcome = outcome
        withLock { segment in
            segment.slots = UInt32(min(max(1, slots), Self.maximumSlots))
            segment.deadline_ns = Int64(deadline * 1e9)
        }
    }

    private init(name: String, pointer: UnsafeMutablePointer<fl_segment>, size: Int) {
        self.name = name
        self.pointer = pointer
        self.size = size
        self.jobCapacity = Int(pointer.pointee.job_capacity)
        self.outcome = .attached
    }

    /// Maps an existing, valid segment without changing it (the monitor's view); `nil` when there
    /// is none yet, it is not one this binary can read, or it is not this user's alone.
    public static func attach(name: String) -> SharedSegment? {
        let descriptor = shm_open(name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, ownershipProblem(status) == nil,
            Int(status.st_size) >= MemoryLayout<fl_segment>.size,
            let mapped = try? map(descriptor, size: Int(status.st_size))
        else { return nil }
        guard problem(with: mapped, size: Int(status.st_size)) == nil else {
            munmap(mapped, Int(status.st_size))
            return nil
        }
        return SharedSegment(name: name, pointer: mapped, size: Int(status.st_size))
    }

    deinit {
        munmap(pointer, size)
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

    /// The futex word bumped whenever a job ends or leaves.
    var generation: UnsafeMutablePointer<UInt32> {
        UnsafeMutableRawPointer(pointer).advanced(by: MemoryLayout<fl_segment>.offset(of: \fl_segment.generation)!)
            .assumingMemoryBound(to: UInt32.self)
    }

    /// The futex word a job's waiter sleeps on until it is granted a slot.
    func grantedWord(ticket: UInt64) -> UnsafeMutablePointer<UInt32> {
        let job = fl_segment_job(pointer, ticket)
        return UnsafeMutableRawPointer(job).advanced(by: MemoryLayout<fl_job>.offset(of: \fl_job.granted)!)
            .assumingMemoryBound(to: UInt32.self)
    }

    /// Why an object found under our name must not be used: another user's, or writable by
    /// others (anyone could then feed every worker of the host values of their choosing).
    static func ownershipProblem(_ status: stat) -> String? {
        if status.st_uid != geteuid() { return "owned by uid \(status.st_uid), not \(geteuid())" }
        if status.st_mode & 0o077 != 0 { return "mode \(String(status.st_mode & 0o777, radix: 8)), not 600" }
        return nil
    }

    /// Opens or creates a shared-memory object only this user may use; returns it and its size.
    private static func openObject(_ name: String) throws(SystemCallError) -> (Int32, Int) {
        let descriptor = try systemCall("shm_open(\(name))") {
            shm_open(name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        var status = stat()
        do {
            try systemCall("fstat(\(name))") { fstat(descriptor, &status) }
        } catch {
            close(descriptor)
            throw error
        }
        if let problem = ownershipProblem(status) {
            close(descriptor)
            throw SystemCallError(call: "shm_open(\(name)): \(problem); refusing it", errno: EPERM)
        }
        return (descriptor, Int(status.st_size))
    }

    private static func map(_ descriptor: Int32, size: Int) throws(SystemCallError) -> UnsafeMutablePointer<fl_segment>
    {
        guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0), raw != MAP_FAILED else {
            throw SystemCallError(call: "mmap(shared segment)", errno: errno)
        }
        return raw.assumingMemoryBound(to: fl_segment.self)
    }

    private static func problem(with segment: UnsafeMutablePointer<fl_segment>, size: Int) -> String? {
        let header = segment.pointee
        if header.magic != FL_SEGMENT_MAGIC { return "no fullyloaded segment (magic \(header.magic))" }
        if header.version != FL_SEGMENT_VERSION {
            return "layout version \(header.version), expected \(FL_SEGMENT_VERSION)"
        }
        guard jobCapacityRange.contains(Int(header.job_capacity)),
            fl_segment_size(header.job_capacity) == UInt64(size), header.size == UInt64(size)
        else {
            return "size \(size) bytes, recorded \(header.size) for \(header.job_capacity) jobs"
        }
        if fl_load_acquire(&segment.pointee.ready) != 1 { return "left half-initialised by a process that died" }
        if header.slots == 0 || header.slots > FL_MAX_SLOTS
            || !(header.unit_seconds.isFinite && header.unit_seconds > 0)
        {
            return "corrupt (slots \(header.slots), unit \(header.unit_seconds))"
        }
        return nil
    }

    private static func initialise(
        _ segment: UnsafeMutablePointer<fl_segment>, size: Int, capacity: Int, slots: Int, deadline: Double,
        estimate: ServiceTimeEstimate
    ) throws(SystemCallError) {
        memset(segment, 0, size)
        try systemCallReturningError("pthread_mutex_init(shared segment)") { fl_segment_init_lock(segment) }
        segment.pointee.magic = FL_SEGMENT_MAGIC
        segment.pointee.version = FL_SEGMENT_VERSION
        segment.pointee.size = UInt64(size)
        segment.pointee.job_capacity = UInt32(capacity)
        segment.pointee.slots = UInt32(min(max(1, slots), maximumSlots))
        segment.pointee.deadline_ns = Int64(deadline * 1e9)
        segment.pointee.unit_seconds = estimate.unitSeconds
        segment.pointee.estimate_samples = UInt64(estimate.samples)
        segment.pointee.next_ticket = 1
        segment.pointee.grant_ticket = 1
        fl_store_release(&segment.pointee.ready, 1)
    }
}
