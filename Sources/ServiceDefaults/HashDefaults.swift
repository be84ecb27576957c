/// The hashing policy's defaults: every command, renderer and script takes them from here
/// (scripts through `fullyloaded defaults`). argon2id's defaults are OWASP's parameters,
/// `Argon2Parameters.owasp`.
public enum HashDefaults {
    /// bcrypt's cost of new hashes and of `/api/load`: about a quarter of a second of one core on
    /// the reference machine.
    public static let cost = 12

    /// The lowest cost a new hash may have unless `--cost` is lower: OWASP's floor for bcrypt,
    /// below which a hash is too cheap to slow down a guessing attacker.
    public static let minimumCost = 10

    /// The highest cost a request may ask for, or a verified hash may carry: cost 14 is four
    /// times cost 12's work, about a second of one core.
    public static let maximumCost = 14
}
