import CSharedState
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// One mapping of the segment's file, and its only owner: it is unmapped exactly once, when the
/// owner ends, on every path (a mapping found unusable is dropped, not unmapped by hand).
struct SegmentMapping: ~Copyable {
    /// The segment, as mapped.
    let pointer: UnsafeMutablePointer<fl_segment>
    /// Bytes mapped.
    let size: Int

    /// Maps `size` bytes of `descriptor`, shared with every process that maps it.
    init(_ descriptor: FileDescriptor, size: Int, readOnly: Bool) throws(SystemCallError) {
        let protection = readOnly ? PROT_READ : PROT_READ | PROT_WRITE
        guard let raw = mmap(nil, size, protection, MAP_SHARED, descriptor.rawValue, 0), raw != MAP_FAILED else {
            throw SystemCallError(call: "mmap(shared segment)", errno: errno)
        }
        pointer = raw.assumingMemoryBound(to: fl_segment.self)
        self.size = size
    }

    /// Maps the file of `size` bytes behind `descriptor` if it holds a segment this binary can
    /// use: this layout version, this size, initialised, sane. Otherwise `nil`, with why in
    /// `problem`. The one check that both the workers' open and the monitor's attach go through.
    static func mapIfValid(
        _ descriptor: FileDescriptor, size: Int, readOnly: Bool, problem: inout String?
    ) throws(SystemCallError) -> SegmentMapping? {
        guard size >= MemoryLayout<fl_segment>.size else {
            problem = "size \(size) bytes, smaller than the header"
            return nil
        }
        let mapping = try SegmentMapping(descriptor, size: size, readOnly: readOnly)
        if let found = SharedSegment.problem(with: mapping.pointer, size: size) {
            problem = found
            return nil
        }
        return mapping
    }

    deinit {
        munmap(pointer, size)
    }
}
