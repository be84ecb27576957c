import Foundation
import POSIXSupport
import StackTestSupport
import Testing

/// Rehash on verify, `/api/needs-rehash` and the unknown user's verify, through real nginx and
/// real workers under admission.
@Suite("rehash and unknown users through nginx", .serialized)
struct RehashThroughNginxTests {
    @Test("a stored hash below --cost verifies and comes back rehashed at --cost; needs-rehash agrees without a job")
    func rehashOnVerify() throws {
        // The policy is cost 6; a hash of cost 4, below --min-cost 5, still verifies.
        let stack = try TestStack(workers: 2, cost: 6, arguments: ["--min-cost", "5", "--max-cost", "6"])
        defer { _ = try? stack.stop() }
        let client = stack.client()
        let old = try client.request("POST", "/api/hash", body: jsonBody(["password": "s3cret", "cost": 4]))
        #expect(old.status == 400 && old.errorCode == "cost_out_of_range", "new hashes keep the floor")
        let php = try Command.run(
            "/usr/bin/php", ["-r", #"echo password_hash("s3cret", PASSWORD_BCRYPT, ["cost" => 4]);"#])
        let stored = php.output
        #expect(stored.hasPrefix("$2y$04$"), "\(stored)")

        let needs = try client.request("POST", "/api/needs-rehash", body: jsonBody(["hash": stored]))
        #expect(needs.status == 200 && needs.json["needs_rehash"] as? Bool == true, "\(needs.text)")
        let verified = try client.request(
            "POST", "/api/verify", body: jsonBody(["password": "s3cret", "hash": stored]))
        #expect(verified.status == 200 && verified.json["match"] as? Bool == true, "\(verified.text)")
        let rehash = try #require(verified.json["rehash"] as? String, "\(verified.text)")
        #expect(rehash.hasPrefix("$2b$06$"))
        // PHP, an independent bcrypt, takes the new hash; and it meets the policy.
        let check = try Command.run(
            "/usr/bin/php", ["-r", #"echo password_verify("s3cret", $argv[1]) ? "yes" : "no";"#, rehash])
        #expect(check.output == "yes", "\(check.output)")
        let after = try client.request("POST", "/api/needs-rehash", body: jsonBody(["hash": rehash]))
        #expect(after.json["needs_rehash"] as? Bool == false, "\(after.text)")
        // Two jobs admitted, both for the verify (the match, then the rehash); none for the
        // refused hash, and none for needs-rehash, which hashes nothing. Stats are up to 0.1 s old.
        usleep(200_000)
        let stats = try client.request("GET", "/api/stats")
        let counters = stats.json["counters"] as? [String: Any]
        #expect(counters?["admitted"] as? Int == 2, "\(stats.text)")

    }

    @Test(
        "a verify with hash null answers match false in the time a real failed verify takes, over a few hundred interleaved samples"
    )
    func unknownUserTakesAsLong() throws {
        let stack = try TestStack(workers: 2, cost: 7, arguments: ["--max-cost", "7"])
        defer { _ = try? stack.stop() }
        let client = stack.client()
        let hashed = try client.request("POST", "/api/hash", body: jsonBody(["password": "real user"]))
        let stored = try #require(hashed.json["hash"] as? String)
        let known = jsonBody(["password": "a guess", "hash": stored])
        let unknown = Array(#"{"password":"a guess","hash":null}"#.utf8)
        var knownTimes: [Double] = []
        var unknownTimes: [Double] = []
        for index in 0..<400 {
            let (body, isKnown) = index % 2 == 0 ? (known, true) : (unknown, false)
            let started = MonotonicClock.now
            let response = try client.request("POST", "/api/verify", body: body)
            let seconds = MonotonicClock.now - started
            try #require(response.status == 200, "\(response.text)")
            #expect(response.text == #"{"match":false}"# + "\n" || response.text == #"{"match":false}"#)
            if isKnown { knownTimes.append(seconds) } else { unknownTimes.append(seconds) }
        }
        knownTimes.sort()
        unknownTimes.sort()
        // The two distributions, quantile by quantile: the same work, so the same times within
        // noise; skipping the hash would make the unknown user's a tenth or less.
        for quantile in [0.25, 0.5, 0.75] {
            let a = knownTimes[Int(quantile * Double(knownTimes.count))]
            let b = unknownTimes[Int(quantile * Double(unknownTimes.count))]
            #expect(b / a > 0.8 && b / a < 1.25, "p\(Int(quantile * 100)): known \(a) s, unknown \(b) s")
        }
    }
}
