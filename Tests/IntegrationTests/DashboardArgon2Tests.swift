import Foundation
import POSIXSupport
import StackTestSupport
import Testing

/// The work by algorithm and the memory budget, on the page in headless Chromium and in /metrics.
@Suite("Dashboard: argon2id and memory", .serialized)
struct DashboardArgon2Tests {
    @Test("under argon2id load the page shows its rate and the memory against the budget; /metrics counts by algorithm")
    func argon2idWork() throws {
        let stack = try TestStack(
            workers: 2, cost: 5,
            arguments: [
                "--algorithm", "argon2id", "--argon2-memory", "8192", "--argon2-passes", "1", "--hash-memory", "64",
                "--deadline", "0.5",
            ])
        defer { _ = try? stack.stop() }
        let browser = try WebDriverSession()
        try browser.navigate(to: "http://127.0.0.1:\(stack.port)/")
        func state() throws -> [String: Any] {
            try browser.execute(
                """
                const s = window.fullyloaded || {};
                return { received: s.received || 0, argon2id: document.getElementById('argon2id').textContent,
                  memory: document.getElementById('memory').textContent,
                  argon2idPoints: typeof Chart === 'undefined' ? -1
                    : Chart.getChart('chart-throughput').data.datasets[4].data.filter(v => v > 0).length };
                """) as? [String: Any] ?? [:]
        }
        for _ in 0..<100 where try state()["received"] as? Int ?? 0 < 2 { usleep(100_000) }
        let idle = try state()
        #expect(idle["memory"] as? String == "0 / 64", "\(idle)")
        DashboardTests.load(stack, clients: 8, seconds: 3)
        let loaded = try state()
        #expect(Double(loaded["argon2id"] as? String ?? "") ?? 0 > 0, "\(loaded)")
        #expect(loaded["argon2idPoints"] as? Int ?? 0 >= 1, "\(loaded)")

        usleep(600_000)
        let metrics = try stack.client().request("GET", "/metrics").text.split(separator: "\n")
        func value(_ prefix: String) -> Double? {
            metrics.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(value(#"fullyloaded_hashes_total{algorithm="argon2id"}"#) ?? 0 >= 5, "\(metrics)")
        #expect(value(#"fullyloaded_hashes_total{algorithm="bcrypt"}"#) == 0)
        let budget = value(#"fullyloaded_hash_memory_bytes{state="budget"}"#).map { Int($0) }
        #expect(budget == 64 * 1_048_576, "\(metrics)")
        #expect(value(#"fullyloaded_hash_memory_bytes{state="in_use"}"#).map { $0 <= 64 * 1_048_576 } == true)
    }
}
