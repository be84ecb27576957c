import Argon2
import ArgumentParser
import JSONWriting
import ServiceDefaults

/// `fullyloaded defaults`: the defaults of the promise, the hash and the pool, for scripts and
/// packaging that must agree with the binary instead of restating a number.
struct DefaultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defaults",
        abstract: "Print the defaults of the promise, the hash and the pool (JSON, or one value with --get).")

    /// Every default, named as its flag is, in the order `--help` lists them.
    static let values: [(flag: String, value: JSONValue)] = [
        ("deadline", .double(PromiseDefaults.deadline)),
        ("headroom", .double(PromiseDefaults.headroom)),
        ("refusal-rate", .double(PromiseDefaults.refusalRatePerSlot)),
        ("cost", .int(HashDefaults.cost)),
        ("min-cost", .int(HashDefaults.minimumCost)),
        ("max-cost", .int(HashDefaults.maximumCost)),
        ("argon2-memory", .int(Argon2Parameters.owasp.memoryKiB)),
        ("argon2-passes", .int(Argon2Parameters.owasp.passes)),
        ("argon2-lanes", .int(Argon2Parameters.owasp.lanes)),
        ("threads", .int(PoolDefaults.requestThreads)),
        ("compute-niceness", .int(Int(PoolDefaults.computeNiceness))),
    ]

    @Option(help: ArgumentHelp("Print only this flag's default, bare (e.g. cost, deadline).", valueName: "flag"))
    var get: String?

    func validate() throws {
        if let get, !Self.values.contains(where: { $0.flag == get }) {
            throw ValidationError(
                "no default named \(get); one of: \(Self.values.map(\.flag).joined(separator: ", "))")
        }
    }

    func run() throws {
        if let get, let value = Self.values.first(where: { $0.flag == get })?.value {
            print(value.text)
        } else {
            print(JSONValue.object(Self.values.map { ($0.flag, $0.value) }).text)
        }
    }
}
