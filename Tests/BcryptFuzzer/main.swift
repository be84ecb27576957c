// A coverage-guided fuzz target (libFuzzer) that compares our interleaved bcrypt core with
// libxcrypt: every lane's hash must be exactly what crypt_rn gives. Built only by
// `Deploy/dev.sh fuzz` (-sanitize=fuzzer -DFUZZING).
//
// Input: byte 0 picks the lane count (1…4); then per lane 16 salt bytes, a length byte (0…72)
// and that many password bytes (a NUL, which bcrypt cannot take, reads as 1). At cost 4, so that
// a case takes a millisecond. A mismatch stops the run with the input saved as crash-<sha1>.
import Bcrypt
import FuzzingSupport

enum BcryptFuzzer {
    // libFuzzer calls the target from one thread only; the hasher's scratch is never shared.
    nonisolated(unsafe) static let reference = BcryptHasher()

    static func run(_ input: UnsafeRawBufferPointer) {
        var bytes = Array(input)[...]
        let lanes = 1 + Int(bytes.popFirst() ?? 0) % BcryptLanes.maximumLanes
        var jobs: [BcryptLanes.Job] = []
        for _ in 0..<lanes {
            var salt = Array(bytes.prefix(16))
            bytes = bytes.dropFirst(16)
            salt += Array(repeating: 0, count: 16 - salt.count)
            let length = Int(bytes.popFirst() ?? 0) % (BcryptHasher.maximumPasswordBytes + 1)
            let password = bytes.prefix(length).map { $0 == 0 ? 1 : $0 }
            bytes = bytes.dropFirst(length)
            jobs.append(BcryptLanes.Job(password: password, salt: salt))
        }
        guard let hashes = try? BcryptLanes.hash(jobs, cost: 4) else {
            FuzzTarget.fail("the core refused a valid batch")
        }
        for (job, hash) in zip(jobs, hashes) {
            guard (try? reference.verify(passwordBytes: job.password, against: hash)) == true else {
                FuzzTarget.fail("\(hash) is not libxcrypt's hash of \(job.password) (\(lanes) lanes)")
            }
        }
    }
}

FuzzTarget.run(named: "BcryptFuzzer", BcryptFuzzer.run)
