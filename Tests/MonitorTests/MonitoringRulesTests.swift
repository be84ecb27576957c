import Foundation
import StackTestSupport
import Testing

/// The Prometheus rules and the Grafana dashboard shipped in `Deploy/monitoring`: checked and
/// unit-tested by promtool, and read only metrics a real monitor serves.
@Suite("Prometheus rules and the Grafana dashboard", .serialized)
struct MonitoringRulesTests {
    static let folder = TestFiles.checkout + "/Deploy/monitoring"
    /// Unpacked from Debian's prometheus package by `Deploy/dev.sh test`.
    static let promtool = TestFiles.checkout + "/.build/tools/prometheus/usr/bin/promtool"

    static func read(_ name: String) throws -> String {
        try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
    }

    /// The expressions of the dashboard's panels, in order.
    static func dashboardExpressions() throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(try read("grafana-dashboard.json").utf8))
        let panels = try #require((object as? [String: Any])?["panels"] as? [[String: Any]])
        return panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
    }

    /// Every `fullyloaded_…` metric name a text mentions, without a histogram's suffix.
    static func metricNames(in text: String) -> Set<String> {
        Set(
            text.matches(of: /fullyloaded_[a-z_]+/).map { match in
                var name = String(match.output)
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                    name.removeLast(suffix.count)
                }
                return name
            })
    }

    @Test(
        "promtool checks the rules and runs their unit tests on synthetic series: every alert fires when it should and only then"
    )
    func promtoolRules() throws {
        let check = try Command.run(Self.promtool, ["check", "rules", Self.folder + "/fullyloaded-rules.yml"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS: 14 rules found"), "\(check.output)")
        // promtool resolves rule_files against the test file's folder.
        let test = try Command.run(Self.promtool, ["test", "rules", Self.folder + "/fullyloaded-rules.test.yml"])
        #expect(test.status == 0, "\(test.output)")
        let rules = try Self.read("fullyloaded-rules.yml")
        let tests = try Self.read("fullyloaded-rules.test.yml")
        let alerts = rules.matches(of: /- alert: ([A-Za-z]+)/).map { String($0.output.1) }
        #expect(alerts.count == 6, "\(alerts)")
        for alert in alerts {
            // Each alert is tested both ways: silent on a calm host, firing on its own trouble.
            #expect(
                tests.contains("{eval_time: 15m, alertname: \(alert), exp_alerts: []}"), "\(alert) on the calm host")
            #expect(tests.contains("alertname: \(alert)\n        exp_alerts:\n"), "\(alert) never fires in a test")
        }
    }

    @Test("the dashboard's expressions are valid PromQL once its variables are filled in")
    func dashboardExpressionsParse() throws {
        let expressions = try Self.dashboardExpressions()
        #expect(expressions.count >= 20, "\(expressions.count) expressions")
        let scratch = try TestFiles.makeTemporaryDirectory(prefix: "fl-grafana")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // As recording rules, promtool parses every expression; the variables get what Grafana
        // would put in their place.
        var file = "groups:\n  - name: dashboard\n    rules:\n"
        for (index, expression) in expressions.enumerated() {
            let filled = expression.replacingOccurrences(of: "$__rate_interval", with: "1m")
                .replacingOccurrences(of: "$instance", with: ".*")
            #expect(!filled.contains("$"), "an unknown variable in \(expression)")
            let quoted = filled.replacingOccurrences(of: "'", with: "''")
            file += "      - record: dashboard:panel\(index)\n        expr: '\(quoted)'\n"
        }
        try file.write(toFile: scratch + "/dashboard.yml", atomically: true, encoding: .utf8)
        let check = try Command.run(Self.promtool, ["check", "rules", scratch + "/dashboard.yml"])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test("every metric the rules and the dashboard read is one a running monitor serves at /metrics")
    func namesMatchTheMetrics() throws {
        let stack = try TestStack(workers: 1, cost: 5, arguments: ["--max-cost", "5"])
        defer { _ = try? stack.stop() }
        usleep(600_000)  // a sample or two
        let response = try stack.client().request("GET", "/metrics")
        try #require(response.status == 200)
        let served = Set(
            response.text.split(separator: "\n").compactMap { line -> String? in
                let parts = line.split(separator: " ")
                return parts.count >= 3 && parts[1] == "TYPE" ? String(parts[2]) : nil
            })
        #expect(
            served.contains("fullyloaded_jobs_total") && served.contains("fullyloaded_response_seconds"), "\(served)")
        let rules = Self.metricNames(in: try Self.read("fullyloaded-rules.yml"))
        let dashboard = Self.metricNames(in: try Self.dashboardExpressions().joined(separator: "\n"))
        #expect(rules.count >= 6 && dashboard.count >= 12, "\(rules) \(dashboard)")
        #expect(
            rules.union(dashboard).subtracting(served).isEmpty,
            "not served: \(rules.union(dashboard).subtracting(served))")
        // And every outcome label they name is one the monitor counts.
        let outcomes = Set(
            response.text.matches(of: /fullyloaded_jobs_total\{outcome="([a-z_]+)"\}/).map { String($0.output.1) })
        let named = (try Self.read("fullyloaded-rules.yml") + Self.dashboardExpressions().joined())
            .matches(of: /outcome=~?"([a-z_|]+)"/).flatMap { $0.output.1.split(separator: "|").map(String.init) }
        #expect(
            !named.isEmpty && Set(named).subtracting(outcomes).isEmpty,
            "unknown outcomes: \(Set(named).subtracting(outcomes))")
    }
}
