import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Sizing, opening, checking and initialising the segment: everything that happens before a
/// process trusts what it mapped.
extension SharedSegment {
    /// The job ring a host needs: room for every job the promise can admit within N at the
    /// shortest service time, twice over (jobs refused at their deadline keep a ticket until
    /// then), within ``jobCapacityRange``.
    public static func jobCapacity(slots: Int, deadline: Double, shortestServiceSeconds: Double) -> Int {
        guard shortestServiceSeconds > 0, deadline.isFinite, deadline > 0 else { return jobCapacityRange.upperBound }
        let admissible = Double(max(1, slots)) * deadline / shortestServiceSeconds
        return Int(min(Double(jobCapacityRange.upperBound), max(Double(jobCapacityRange.lowerBound), 2 * admissible)))
    }

    /// Why an object found under our name must not be used: another user's, or writable by
    /// others (anyone could then feed every worker of the host values of their choosing).
    static func ownershipProblem(_ status: stat) -> String? {
        if status.st_uid != geteuid() { return "owned by uid \(status.st_uid), not \(geteuid())" }
        if status.st_mode & 0o077 != 0 { return "mode \(String(status.st_mode & 0o777, radix: 8)), not 600" }
        return nil
    }

    /// The directory and the file name of a segment's path, which must be absolute.
    static func splitPath(_ path: String) throws(SystemCallError) -> (directory: String, file: String) {
        guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/") else {
            throw SystemCallError(call: "segment \(path): not an absolute path", errno: EINVAL)
        }
        let file = String(path[path.index(after: slash)...])
        guard !file.isEmpty, file != ".", file != ".." else {
            throw SystemCallError(call: "segment \(path): no file name", errno: EINVAL)
        }
        return (slash == path.startIndex ? "/" : String(path[..<slash]), file)
    }

    /// Why a directory must not hold a segment: anyone but this user or root may write it, so
    /// another user could put an object of their own there first, or swap ours.
    static func directoryProblem(_ status: stat) -> String? {
        if status.st_uid != geteuid() && status.st_uid != 0 { return "owned by uid \(status.st_uid)" }
        if status.st_mode & 0o022 != 0 {
            return "writable by others (mode \(String(status.st_mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    /// Opens the directory a segment lives in, if only this user or root may write it; the
    /// segment and its lock are then opened relative to it, so that it cannot be swapped after
    /// the check.
    static func openDirectory(_ directory: String) throws(SystemCallError) -> FileDescriptor {
        let raw = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard raw >= 0 else {
            let code = errno
            throw SystemCallError(
                call: code == ENOENT
                    ? "open(\(directory)): make it (0700, this user's; systemd's RuntimeDirectory= does) or pass --segment"
                    : "open(\(directory))", errno: code)
        }
        let descriptor = FileDescriptor(adopting: raw)
        var status = stat()
        do throws(SystemCallError) {
            try systemCall("fstat(\(directory))") { fstat(descriptor.rawValue, &status) }
            if let problem = directoryProblem(status) {
                throw SystemCallError(call: "segment directory \(directory): \(problem); refusing it", errno: EPERM)
            }
        } catch {
            descriptor.close()
            throw error
        }
        return descriptor
    }

    /// Opens (`create`: or creates, 0600) the file `name` in `directory`, if it is a plain file
    /// only this user may use; returns it and its size.
    static func openObject(
        _ name: String, in directory: FileDescriptor, create: Bool = true, readOnly: Bool = false
    ) throws(SystemCallError) -> (descriptor: FileDescriptor, size: Int) {
        let access = readOnly ? O_RDONLY : O_RDWR
        let flags = access | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | (create && !readOnly ? O_CREAT : 0)
        let descriptor = FileDescriptor(
            adopting: try systemCall("openat(\(name))") { openat(directory.rawValue, name, flags, 0o600) })
        var status = stat()
        do throws(SystemCallError) {
            try systemCall("fstat(\(name))") { fstat(descriptor.rawValue, &status) }
            if status.st_mode & S_IFMT != S_IFREG {
                throw SystemCallError(call: "openat(\(name)): not a plain file; refusing it", errno: EPERM)
            }
            if let problem = ownershipProblem(status) {
                throw SystemCallError(call: "openat(\(name)): \(problem); refusing it", errno: EPERM)
            }
        } catch {
            descriptor.close()
            throw error
        }
        return (descriptor, Int(status.st_size))
    }

    static func problem(with segment: UnsafeMutablePointer<fl_segment>, size: Int) -> String? {
        // Field by field: a copy of the whole segment would be hundreds of kilobytes on the stack.
        let magic = segment.pointee.magic
        let version = segment.pointee.version
        let capacity = segment.pointee.job_capacity
        let recorded = segment.pointee.size
        if magic != FL_SEGMENT_MAGIC { return "no fullyloaded segment (magic \(magic))" }
        if version != FL_SEGMENT_VERSION { return "layout version \(version), expected \(FL_SEGMENT_VERSION)" }
        guard jobCapacityRange.contains(Int(capacity)), fl_segment_size(capacity) == UInt64(size),
            recorded == UInt64(size)
        else {
            return "size \(size) bytes, recorded \(recorded) for \(capacity) jobs"
        }
        if fl_load_acquire(&segment.pointee.ready) != 1 { return "left half-initialised by a process that died" }
        let slots = segment.pointee.slots
        let unit = segment.pointee.unit_seconds
        if slots == 0 || slots > FL_MAX_SLOTS || !(unit.isFinite && unit > 0) {
            return "corrupt (slots \(slots), unit \(unit))"
        }
        return nil
    }

    static func initialise(
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
        segment.pointee.key_seed = randomSeed()
        segment.pointee.waiting_clients = -1
        SegmentView(locked: segment, capacity: UInt32(capacity))[client: Int(FL_OVERFLOW_CLIENT)] = .overflow
        fl_store_release(&segment.pointee.ready, 1)
    }

    /// The client table's hash key: from the kernel's random source, or, should that fail,
    /// from the clock and the pid (it only spreads keys; nothing secret rests on it).
    private static func randomSeed() -> UInt64 {
        var seed: UInt64 = 0
        if fl_random_seed(&seed) != 0 {
            seed = UInt64(bitPattern: Int64(MonotonicClock.now * 1e9)) ^ (UInt64(UInt32(bitPattern: getpid())) << 32)
        }
        return seed
    }
}
