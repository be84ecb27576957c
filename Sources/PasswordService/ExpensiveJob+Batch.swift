import Bcrypt

extension ExpensiveJob {
    /// Runs `jobs` together on the calling thread and returns their results in order: those at
    /// the first job's cost that the multi-lane core takes are hashed side by side in one call
    /// (``BcryptLanes``), the rest one by one on `hasher`, exactly as ``perform(with:)`` runs them.
    ///
    /// A job the core does not take — a password bcrypt refuses, a `$2a$` hash of an 8-bit
    /// password (libxcrypt's countermeasure) — is answered by `hasher`, so that each job gets the
    /// answer, or the error, it would get alone.
    public static func performBatch(_ jobs: [ExpensiveJob], with hasher: BcryptHasher)
        -> [Result<ExpensiveJobResult, BcryptError>]
    {
        var results = [Result<ExpensiveJobResult, BcryptError>?](repeating: nil, count: jobs.count)
        if let cost = jobs.first?.bcryptCost, jobs.count > 1, BcryptHasher.supportedCosts.contains(cost) {
            var lanes: [BcryptLanes.Job] = []
            var members: [Int] = []
            // The copies of the passwords made here are this function's: wiped on every path.
            defer {
                for index in lanes.indices { lanes[index].password.wipe() }
            }
            for (index, job) in jobs.enumerated() where job.bcryptCost == cost && lanes.count < BcryptLanes.maximumLanes
            {
                guard let lane = laneJob(job) else { continue }
                lanes.append(lane)
                members.append(index)
            }
            if lanes.count > 1, let hashes = try? BcryptLanes.hash(lanes, cost: cost) {
                for (lane, index) in members.enumerated() {
                    switch jobs[index] {
                    case .hash: results[index] = .success(.hashed(hashes[lane]))
                    case .verify(_, let stored):
                        results[index] = .success(.verified(BcryptLanes.matches(hashes[lane], stored)))
                    case .hashArgon2, .verifyArgon2: break
                    }
                }
            }
        }
        return jobs.indices.map { index in
            if let result = results[index] { return result }
            do throws(BcryptError) {
                return .success(try jobs[index].perform(with: hasher))
            } catch {
                return .failure(error)
            }
        }
    }

    /// The job as one lane of the multi-lane core, or `nil` when the core must not take it.
    private static func laneJob(_ job: ExpensiveJob) -> BcryptLanes.Job? {
        switch job {
        case .hash(let password, _):
            var bytes = Array(password.utf8)
            guard (try? BcryptHasher.validate(passwordBytes: bytes)) != nil, let salt = try? SecureRandom.bytes(16)
            else {
                bytes.wipe()
                return nil
            }
            return BcryptLanes.Job(password: bytes, salt: salt)
        case .verify(let password, let hash):
            var bytes = Array(password.utf8)
            guard (try? BcryptHasher.validate(passwordBytes: bytes)) != nil,
                let salt = BcryptLanes.salt(of: hash, for: bytes)
            else {
                bytes.wipe()
                return nil
            }
            return BcryptLanes.Job(password: bytes, salt: salt)
        case .hashArgon2, .verifyArgon2:
            return nil
        }
    }
}
