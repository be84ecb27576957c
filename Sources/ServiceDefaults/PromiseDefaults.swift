/// The N-second promise's defaults: every command, renderer and script takes them from here
/// (scripts through `fullyloaded defaults`).
public enum PromiseDefaults {
    /// N, in seconds: every expensive request is answered within it, or refused at once.
    public static let deadline = 2.0

    /// Admission fills this fraction of N with predicted work; the rest absorbs service times
    /// longer than estimated, so that refusals at the deadline stay rare.
    public static let headroom = 0.9

    /// Refusals per second per compute slot answered at once; more are paced, never past N.
    public static let refusalRatePerSlot = 100.0
}
