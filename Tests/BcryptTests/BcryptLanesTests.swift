import Foundation
import StackTestSupport
import Testing

@testable import Bcrypt

/// Our interleaved bcrypt core against libxcrypt: the same hash, byte for byte, for any password,
/// salt, cost and mix of lanes.
@Suite("BcryptLanes")
struct BcryptLanesTests {
    /// Cases the suite runs; `FULLYLOADED_BCRYPT_CASES` asks for more (a million takes a few
    /// hours of one core at costs 4–6, libxcrypt's half included).
    static let cases = ProcessInfo.processInfo.environment["FULLYLOADED_BCRYPT_CASES"].flatMap(Int.init) ?? 4000

    @Test(
        "random passwords (0–72 bytes of every value but NUL), salts, costs 4–6 and lane counts: every lane is libxcrypt's hash"
    )
    func differential() throws {
        var random = SplitMix(state: UInt64(ProcessInfo.processInfo.environment["FULLYLOADED_BCRYPT_SEED"] ?? "") ?? 1)
        let reference = BcryptHasher()
        var done = 0
        var mismatches: [String] = []
        while done < Self.cases {
            let lanes = Int.random(in: 1...BcryptLanes.maximumLanes, using: &random)
            let cost = Int.random(in: 4...6, using: &random)
            let jobs = (0..<lanes).map { _ in
                // Lengths at the edges as often as inside: empty, one byte, 71 and 72.
                let length =
                    Bool.random(using: &random)
                    ? [0, 1, 71, 72].randomElement(using: &random)! : Int.random(in: 0...72, using: &random)
                return BcryptLanes.Job(
                    password: (0..<length).map { _ in UInt8.random(in: 1...255, using: &random) },
                    salt: (0..<16).map { _ in UInt8.random(in: 0...255, using: &random) })
            }
            let hashes = try BcryptLanes.hash(jobs, cost: cost)
            for (job, hash) in zip(jobs, hashes) {
                // libxcrypt's crypt_rn with our hash as its setting: the same salt and cost; verify
                // is true only if its whole output equals our string.
                if try !reference.verify(passwordBytes: job.password, against: hash) {
                    mismatches.append("\(hash) for \(job.password) in \(lanes) lanes")
                }
            }
            done += lanes
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(done): \(mismatches.prefix(3))")
    }

    @Test(
        "OpenWall's published vectors, through the salt each one carries",
        arguments: 0..<BcryptHasherTests.openwallVectors.count)
    func openwallVector(index: Int) throws {
        let vector = BcryptHasherTests.openwallVectors[index]
        let hash = try #require(BcryptHash(parsing: vector.hash))
        let salt = try #require(BcryptLanes.salt(of: hash, for: vector.password.utf8))
        let computed = try BcryptLanes.hash([.init(password: Array(vector.password.utf8), salt: salt)], cost: hash.cost)
        #expect(BcryptLanes.matches(computed[0], hash), "\(computed[0]) for \(hash)")
        let wrong = vector.password.isEmpty ? "x" : String(vector.password.dropLast()) + "#"
        let other = try BcryptLanes.hash([.init(password: Array(wrong.utf8), salt: salt)], cost: hash.cost)
        #expect(!BcryptLanes.matches(other[0], hash))
    }

    @Test("a $2a$ hash of a password with 8-bit bytes is left to libxcrypt, which applies its countermeasure")
    func eightBitTwoA() throws {
        let hash = try #require(BcryptHash(parsing: "$2a$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"))
        #expect(BcryptLanes.salt(of: hash, for: [0xFF, 0xFF, 0xA3]) == nil)
        #expect(BcryptLanes.salt(of: hash, for: Array("ascii".utf8)) != nil)
        let twoB = try #require(BcryptHash(parsing: "$2b$" + hash.string.dropFirst(4)))
        #expect(BcryptLanes.salt(of: twoB, for: [0xFF, 0xFF, 0xA3]) != nil)
    }

    @Test("PHP's password_verify accepts hashes from every lane")
    func phpVerifies() throws {
        let passwords = ["pässwörd 1", "", "x", String(repeating: "long ", count: 14) + "ab"]
        let hashes = try BcryptLanes.hash(passwords: passwords, cost: 5)
        for (password, hash) in zip(passwords, hashes) {
            #expect(try Self.php(password, hash.string) == "yes", "\(hash)")
            #expect(try Self.php("!" + password.dropFirst(), hash.string) == "no", "\(hash)")
        }
    }

    @Test("pyca bcrypt's checkpw accepts hashes from every lane, 8-bit passwords included")
    func pycaVerifies() throws {
        let passwords: [[UInt8]] = [
            [0xFF, 0xFE, 0x80, 0x01], Array("plain".utf8), [], Array(repeating: 0xA3, count: 72),
        ]
        let jobs = try passwords.map { BcryptLanes.Job(password: $0, salt: try SecureRandom.bytes(16)) }
        let hashes = try BcryptLanes.hash(jobs, cost: 4)
        for (password, hash) in zip(passwords, hashes) {
            let hex = password.map { String(format: "%02x", $0) }.joined()
            let script = "import bcrypt, sys; print(bcrypt.checkpw(bytes.fromhex(sys.argv[1]), sys.argv[2].encode()))"
            #expect(try Self.run("/usr/bin/python3", ["-c", script, hex, hash.string]) == "True\n", "\(hash)")
        }
    }

    @Test("bad batches are refused: no jobs, too many, a salt not of 16 bytes, a NUL, a cost out of range")
    func badBatches() {
        let job = BcryptLanes.Job(password: [1], salt: Array(repeating: 0, count: 16))
        #expect(throws: BcryptError.self) { try BcryptLanes.hash([], cost: 4) }
        #expect(throws: BcryptError.self) { try BcryptLanes.hash(Array(repeating: job, count: 5), cost: 4) }
        #expect(throws: BcryptError.self) { try BcryptLanes.hash([.init(password: [1], salt: [0])], cost: 4) }
        #expect(throws: BcryptError.passwordContainsNUL) {
            try BcryptLanes.hash([.init(password: [1, 0, 2], salt: job.salt)], cost: 4)
        }
        #expect(throws: BcryptError.passwordTooLong(byteCount: 73)) {
            try BcryptLanes.hash([.init(password: Array(repeating: 1, count: 73), salt: job.salt)], cost: 4)
        }
        #expect(throws: BcryptError.costOutOfRange(cost: 3, allowed: 4...31)) { try BcryptLanes.hash([job], cost: 3) }
    }

    static func php(_ password: String, _ hash: String) throws -> String {
        try run("/usr/bin/php", ["-r", #"echo password_verify($argv[1], $argv[2]) ? "yes" : "no";"#, password, hash])
    }

    /// What `path` prints, after checking that it exited 0.
    static func run(_ path: String, _ arguments: [String]) throws -> String {
        let outcome = try Command.run(path, arguments)
        #expect(outcome.status == 0, "\(path): \(outcome.output)")
        return outcome.output
    }
}
