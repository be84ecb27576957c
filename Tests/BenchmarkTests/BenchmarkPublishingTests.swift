import Foundation
import StackTestSupport
import Testing

/// Deploy/bench/publish.py: each benchmark script owns one section of the results page, and
/// earlier runs live in a CSV history, not in prose.
@Suite("benchmark publishing")
struct BenchmarkPublishingTests {
    let publisher = TestFiles.checkout + "/Deploy/bench/publish.py"

    func publish(_ script: String, page: String, report: String, csv: String, in folder: String) throws {
        try report.write(toFile: folder + "/report.md", atomically: true, encoding: .utf8)
        try csv.write(toFile: folder + "/run.csv", atomically: true, encoding: .utf8)
        let run = try Command.run(
            "/usr/bin/python3",
            [
                publisher, "--script", script, "--page", page, "--command", "Deploy/bench/\(script) --seconds 3",
                "--report", folder + "/report.md", "--csv", folder + "/run.csv", "--root", TestFiles.checkout,
            ])
        #expect(run.status == 0, "\(run.output)")
    }

    @Test("a run replaces its own section only, and appends its rows to the history")
    func sectionAndHistory() throws {
        let folder = try TestFiles.makeTemporaryDirectory(prefix: "fl-publish")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let page = folder + "/benchmarks.md"
        let prose = "# Benchmarks\n\nMethod, written by hand.\n\n"
        let other =
            "<!-- BEGIN core.sh: written by Deploy/bench/core.sh, edits here are overwritten -->\ncore table\n<!-- END core.sh -->\n"
        try
            (prose + "<!-- BEGIN openloop.sh: written by Deploy/bench/openloop.sh, edits here are overwritten -->\n"
            + "an old table\n<!-- END openloop.sh -->\n\nMore prose.\n\n" + other)
            .write(toFile: page, atomically: true, encoding: .utf8)

        try publish("openloop.sh", page: page, report: "first table", csv: "system,ok\na,1\nb,2\n", in: folder)
        try publish("openloop.sh", page: page, report: "second table", csv: "system,ok\na,3\n", in: folder)

        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(text.hasPrefix(prose), "\(text)")
        #expect(text.contains("\n\nMore prose.\n\n" + other), "\(text)")
        #expect(!text.contains("an old table") && !text.contains("first table") && text.contains("second table"))
        // One line says when, where, which version and which command.
        let runLine = try #require(text.split(separator: "\n").first { $0.hasPrefix("Run ") })
        #expect(runLine.contains(" UTC, ") && runLine.contains("-core ") && runLine.contains("fullyloaded "))
        #expect(runLine.contains("`Deploy/bench/openloop.sh --seconds 3`"), "\(runLine)")
        #expect(text.components(separatedBy: "<!-- BEGIN openloop.sh").count == 2)

        let history = try String(contentsOfFile: folder + "/data/openloop.csv", encoding: .utf8)
            .split(separator: "\n")
        #expect(history.first == "run_at,version,commit,machine,system,ok")
        #expect(history.dropFirst().map { $0.split(separator: ",").last! } == ["1", "2", "3"], "\(history)")

        // Other columns begin another history; the earlier one is kept under a name of its own.
        try publish("openloop.sh", page: page, report: "third", csv: "system,ok,refused\na,4,5\n", in: folder)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder + "/data")
        #expect(files.contains { $0.hasPrefix("openloop-until-") } && files.contains("openloop.csv"), "\(files)")
        let fresh = try String(contentsOfFile: folder + "/data/openloop.csv", encoding: .utf8).split(separator: "\n")
        #expect(fresh.count == 2 && fresh[0].hasSuffix(",system,ok,refused"), "\(fresh)")
    }

    @Test("a page without the script's section gets it at its end")
    func newSection() throws {
        let folder = try TestFiles.makeTemporaryDirectory(prefix: "fl-publish")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let page = folder + "/benchmarks.md"
        try "# Benchmarks\n\nProse.\n".write(toFile: page, atomically: true, encoding: .utf8)
        try publish("hosts.sh", page: page, report: "hosts table", csv: "hosts,goodput\n1,0.9\n", in: folder)
        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(text.hasPrefix("# Benchmarks\n\nProse.\n\n<!-- BEGIN hosts.sh"), "\(text)")
        #expect(text.hasSuffix("hosts table\n<!-- END hosts.sh -->\n"), "\(text)")
    }
}
