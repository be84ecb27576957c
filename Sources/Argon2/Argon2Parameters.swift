/// The work of one argon2id hash: memory, passes over it, and lanes (RFC 9106's m, t, p).
public struct Argon2Parameters: Sendable, Hashable, CustomStringConvertible {
    /// Memory in KiB (m).
    public var memoryKiB: Int
    /// Passes over the memory (t).
    public var passes: Int
    /// Lanes the memory is split into (p). fullyloaded computes them on one thread, so that a
    /// hash holds one core, as a bcrypt does: p changes the result, not the time.
    public var lanes: Int

    /// Creates parameters; ``problem`` says whether argon2 takes them.
    public init(memoryKiB: Int, passes: Int, lanes: Int) {
        self.memoryKiB = memoryKiB
        self.passes = passes
        self.lanes = lanes
    }

    /// OWASP's first recommendation for argon2id: 19 MiB, two passes, one lane.
    public static let owasp = Argon2Parameters(memoryKiB: 19 * 1024, passes: 2, lanes: 1)

    /// Why argon2 would refuse these parameters, or `nil`: at least 8 KiB per lane, one pass and
    /// one lane (the algorithm's own minimums).
    public var problem: String? {
        if lanes < 1 || lanes > 0xFF_FFFF { return "p = \(lanes) is outside argon2's 1...16777215" }
        if passes < 1 { return "t = \(passes) is below argon2's 1" }
        if memoryKiB < 8 * lanes { return "m = \(memoryKiB) KiB is below argon2's 8 KiB per lane (\(8 * lanes))" }
        return nil
    }

    /// The size of the work, in KiB passed over: what one hash's time is proportional to.
    public var work: Double { Double(memoryKiB) * Double(passes) }

    /// As PHC strings write them: `m=19456,t=2,p=1`.
    public var description: String { "m=\(memoryKiB),t=\(passes),p=\(lanes)" }
}

/// The largest argon2id work a stored hash may ask for, checked before anything is allocated:
/// a hostile stored hash is refused, never hashed at its own size.
public struct Argon2Limits: Sendable, Equatable {
    /// Memory in KiB.
    public var maximumMemoryKiB: Int
    /// Passes.
    public var maximumPasses: Int
    /// Lanes.
    public var maximumLanes: Int

    /// Creates limits.
    public init(maximumMemoryKiB: Int, maximumPasses: Int, maximumLanes: Int) {
        self.maximumMemoryKiB = maximumMemoryKiB
        self.maximumPasses = maximumPasses
        self.maximumLanes = maximumLanes
    }

    /// The widest limits any configuration may set: 4 GiB, 64 passes, 16 lanes.
    public static let hardest = Argon2Parameters(memoryKiB: 4 * 1024 * 1024, passes: 64, lanes: 16)

    /// Salt bytes a hash may carry (RFC 9106: at least 8; ours are 16).
    public static let saltBytes = 8...64
    /// Digest bytes a hash may carry (ours are 32).
    public static let digestBytes = 16...64

    /// Whether `parameters` lie within these limits and argon2's own minimums.
    public func allow(_ parameters: Argon2Parameters) -> Bool {
        parameters.problem == nil && parameters.memoryKiB <= maximumMemoryKiB && parameters.passes <= maximumPasses
            && parameters.lanes <= maximumLanes
    }
}
