import Foundation
import POSIXSupport
import StackTestSupport
import Testing

/// The rounds benchmark (Deploy/bench/rounds.sh) end to end, in its quick mode.
@Suite("rounds benchmark", .serialized)
struct BenchmarkScriptTests {
    @Test("rounds.sh --quick runs every round and PHP-FPM and writes its tables, CSVs and plots")
    func quickRun() throws {
        let out = try TestFiles.makeTemporaryDirectory(prefix: "fl-rounds")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Command.run(
            "/bin/bash",
            [TestFiles.checkout + "/Deploy/bench/rounds.sh", "--quick", "--binary", try TestBinary.path, "--out", out])
        #expect(run.status == 0, "\(run.output.suffix(3000))")
        let systems = ["sync", "async", "coarse", "fine", "php-fpm"]
        for system in systems {
            #expect(run.output.contains("**\(system)**"), "no table for \(system)")
        }
        let data = try FileManager.default.contentsOfDirectory(atPath: out + "/data")
        let raw = try #require(data.first { $0.hasPrefix("rounds-") && $0.hasSuffix(".csv") && !$0.contains("median") })
        let rows = try String(contentsOfFile: out + "/data/" + raw, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.count == systems.count * 2, "\(rows)")
        for row in rows {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            // Every system answered hashes at every level, and none failed outright.
            #expect(Int(fields[4]) ?? 0 > 0, "no 200 in \(row)")
            #expect(fields[6] == "0", "failures in \(row)")
        }
        for plot in ["throughput", "latency", "cheap"] {
            let svg = try String(contentsOfFile: out + "/rounds-\(plot).svg", encoding: .utf8)
            #expect(svg.contains("<svg"))
            for system in systems { #expect(svg.contains(">\(system)<"), "\(plot) plot lacks \(system)") }
        }
    }
}
