/// What admission prices a job by: its algorithm and the parameters that set its time in a
/// slot and the memory it holds there.
public enum JobClass: Sendable, Hashable {
    /// bcrypt at a cost (4...31): 2^cost units of bcrypt's learnt time.
    case bcrypt(cost: Int)
    /// argon2id with `memoryKiB` (m) and `passes` (t): m × t units of argon2id's learnt time,
    /// holding m KiB while it runs. Lanes (p) change neither: they run on one thread.
    case argon2id(memoryKiB: Int, passes: Int)

    /// The memory a running job of this class holds, in KiB (bcrypt's 4 KiB are not counted).
    public var memoryKiB: Int {
        switch self {
        case .bcrypt: 0
        case .argon2id(let memory, _): memory
        }
    }
}

/// One registered argon2id class of the queue (index 0..<``SharedSegment/argon2Classes``).
struct Argon2ClassEntry: Equatable, Sendable {
    /// m in KiB; 0: the entry is free.
    var memoryKiB: Int
    /// t.
    var passes: Int
    /// A job's work in the fair share's units (2^cost for bcrypt), fixed when the class was
    /// registered, so that what a job adds to its client is what it takes away again.
    var fairUnits: UInt64

    static let free = Argon2ClassEntry(memoryKiB: 0, passes: 0, fairUnits: 0)
}
