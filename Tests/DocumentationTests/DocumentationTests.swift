// Longer than most files: the checks of every doc against the binary and the tree share one set of helpers (help text, links, flags).
import Foundation
import StackRunner
import StackTestSupport
import Testing

/// The docs name only what exists: files, links, flags; the flag reference is the binary's own help.
@Suite("documentation")
struct DocumentationTests {
    static let commands = ["up", "worker", "monitor", "calibrate", "nginx-upstreams", "defaults"]
    /// Flags of other tools the docs show in commands: schemathesis, systemd-analyze, certbot.
    static let otherToolsFlags: Set<String> = [
        "--checks", "--generation-codec", "--url", "--offline", "--webroot", "--deploy-hook",
    ]

    static func documents() throws -> [(path: String, text: String)] {
        let docs = TestFiles.checkout + "/Docs"
        let names = try FileManager.default.contentsOfDirectory(atPath: docs).filter { $0.hasSuffix(".md") }
        return try (["README.md", "CHANGELOG.md"] + names.map { "Docs/" + $0 }).map {
            ($0, try String(contentsOfFile: TestFiles.checkout + "/" + $0, encoding: .utf8))
        }
    }

    static func matches(_ pattern: String, in text: String, group: Int = 1) throws -> [String] {
        let expression = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: group), in: text).map { String(text[$0]) }
        }
    }

    static func help(_ command: String) throws -> String {
        let run = try Command.run("/usr/bin/env", ["-u", "COLUMNS", try TestBinary.path, command, "--help"])
        #expect(run.status == 0, "\(command) --help: \(run.output)")
        return run.output
    }

    @Test("every relative link and repository path in README.md and Docs/ exists")
    func linksAndPathsExist() throws {
        let files = FileManager.default
        var checked = 0
        for (path, text) in try Self.documents() {
            let folder = URL(fileURLWithPath: TestFiles.checkout + "/" + path).deletingLastPathComponent().path
            for link in try Self.matches(#"\]\(([^)#\s]+)(#[^)]*)?\)"#, in: text) where !link.contains("://") {
                checked += 1
                #expect(files.fileExists(atPath: folder + "/" + link), "\(path) links to \(link), which does not exist")
            }
            // `Deploy/dev.sh test`, `Docs/stats.md`, `nginx/sites/fullyloaded.conf`: paths in code spans.
            let spans = try Self.matches(#"`((?:Deploy|Docs|Sources|Tests|nginx)/[^`\s]*)"#, in: text)
            for span in spans where !span.contains(where: { "*<>{}…".contains($0) }) {
                checked += 1
                #expect(
                    files.fileExists(atPath: TestFiles.checkout + "/" + span),
                    "\(path) names \(span), which does not exist")
            }
        }
        #expect(checked > 40, "only \(checked) links and paths found")
    }

    @Test("every flag the docs name is one the binary or a script of the repository takes")
    func flagsExist() throws {
        var known = Self.otherToolsFlags.union(["--help"])
        for command in Self.commands + ["admission-bench"] {
            known.formUnion(try Self.matches(#"^\s+(--[a-z][a-z0-9-]*)"#, in: try Self.help(command)))
        }
        let scripts = TestFiles.checkout + "/Deploy"
        for script in ["dev.sh", "install.sh"].map({ scripts + "/" + $0 })
            + (try FileManager.default.contentsOfDirectory(atPath: scripts + "/bench")).filter({ $0.hasSuffix(".sh") })
            .map({ scripts + "/bench/" + $0 })
        {
            // Options a script parses: `--workers)` in its case statement.
            known.formUnion(
                try Self.matches(#"^\s*(--[a-z][a-z0-9-]*)\)"#, in: try String(contentsOfFile: script, encoding: .utf8))
            )
        }
        #expect(known.count > 40)
        for (path, text) in try Self.documents() {
            for flag in Set(try Self.matches(#"(?<![\w-])(--[a-z][a-z0-9-]*)"#, in: text)) {
                #expect(known.contains(flag), "\(path) names \(flag), which nothing here takes")
            }
        }
    }

    @Test("the flag reference in Docs/operations.md is the binary's --help, command by command")
    func flagReferenceIsTheHelp() throws {
        let operations = try String(contentsOfFile: TestFiles.checkout + "/Docs/operations.md", encoding: .utf8)
        for command in Self.commands {
            let heading = "### `fullyloaded \(command)`\n\n```text\n"
            let start = try #require(
                operations.range(of: heading), "no reference for \(command): run Deploy/dev.sh flags")
            let end = try #require(operations[start.upperBound...].range(of: "\n```\n"))
            let documented = String(operations[start.upperBound..<end.lowerBound])
            let help = try Self.help(command).trimmingCharacters(in: .newlines)
            #expect(documented == help, "Docs/operations.md's \(command) differs from --help: run Deploy/dev.sh flags")
        }
    }

    @Test("figures the docs quote from the code and the units are the code's: nginx's allowance past N, RestartSec")
    func quotedFigures() throws {
        let documents = try Self.documents()
        var quoted = 0
        for (path, text) in documents {
            for value in try Self.matches(#"N \+ ([0-9.]+) ?ms"#, in: text) {
                quoted += 1
                #expect(
                    Int(value) == NginxUpstreams.answerAllowanceMilliseconds,
                    "\(path) says N + \(value) ms; nginx's timeouts are N + \(NginxUpstreams.answerAllowanceMilliseconds) ms"
                )
            }
        }
        #expect(quoted >= 3, "the docs quote nginx's allowance past N")
        let units = try ["fullyloaded-worker@.service", "fullyloaded-monitor.service"].map {
            try String(contentsOfFile: TestFiles.checkout + "/Deploy/systemd/" + $0, encoding: .utf8)
        }
        let shipped = Set(try units.flatMap { try Self.matches(#"^RestartSec=(\S+)$"#, in: $0) })
        #expect(shipped.count == 1, "the units restart alike: \(shipped)")
        for (path, text) in documents {
            for value in try Self.matches(#"RestartSec=([0-9a-z.]+)"#, in: text) {
                #expect(shipped == [value], "\(path) says RestartSec=\(value); the units say \(shipped)")
            }
        }
    }

    @Test("the defaults the docs quote are the parser's: the cost range, --cost and N")
    func quotedDefaults() throws {
        let worker = try Self.help("worker")
        func defaultOf(_ flag: String) throws -> String {
            try #require(
                // Its own entry only: up to the next flag's line.
                try Self.matches(#"\#(flag) <[a-z-]+>(?:(?!\n  --)[\s\S])*?\(default: ([0-9.]+)"#, in: worker).first,
                "\(flag) has no default in --help")
        }
        let (low, high, cost) = (try defaultOf("--min-cost"), try defaultOf("--max-cost"), try defaultOf("--cost"))
        let deadline = try #require(Double(try defaultOf("--deadline")))
        var quoted = 0
        for (path, text) in try Self.documents() {
            for range in try Self.matches(
                #"([0-9]+)…([0-9]+)(?: unless| by default|\s*\(the floor)"#, in: text, group: 0)
            {
                quoted += 1
                #expect(
                    range.hasPrefix("\(low)…\(high)"),
                    "\(path) quotes the cost range as \(range); --help says \(low)…\(high)")
            }
            for range in try Self.matches(#"default ([0-9]+)…([0-9]+)"#, in: text, group: 0) {
                quoted += 1
                #expect(range == "default \(low)…\(high)", "\(path) says \(range); --help says \(low)…\(high)")
            }
            for value in try Self.matches(#"`--deadline`, default ([0-9.]+)"#, in: text) {
                quoted += 1
                #expect(Double(value) == deadline, "\(path) says N defaults to \(value); --help says \(deadline)")
            }
            for value in try Self.matches(#"`--cost`, default ([0-9]+)"#, in: text) {
                quoted += 1
                #expect(value == cost, "\(path) says --cost defaults to \(value); --help says \(cost)")
            }
        }
        #expect(quoted >= 5, "the docs quote the defaults \(quoted) times")
    }

    @Test("CHANGELOG.md and the Debian changelog list the same releases, newest first")
    func changelogsAgree() throws {
        let markdown = try String(contentsOfFile: TestFiles.checkout + "/CHANGELOG.md", encoding: .utf8)
        let debian = try String(contentsOfFile: TestFiles.checkout + "/Deploy/debian/changelog", encoding: .utf8)
        let releases = try Self.matches(#"^## ([0-9][0-9A-Za-z.+~]*) — "#, in: markdown)
        let packaged = try Self.matches(#"^fullyloaded \(([^)]+)\)"#, in: debian)
        #expect(!releases.isEmpty && releases == packaged, "CHANGELOG.md: \(releases); debian/changelog: \(packaged)")
        #expect(markdown.contains("### Upgrade notes"))
    }

    @Test("the /etc/default reference names every flag the units' ExecStart fixes, as the units spell it")
    func environmentFileReference() throws {
        let operations = try String(contentsOfFile: TestFiles.checkout + "/Docs/operations.md", encoding: .utf8)
        let section = try #require(
            operations.components(separatedBy: "## `/etc/default/fullyloaded`").dropFirst().first?
                .components(separatedBy: "\n## ").first)
        var fixed = 0
        for (unit, variable) in [
            ("fullyloaded-worker@.service", "FULLYLOADED_WORKER_OPTIONS"),
            ("fullyloaded-monitor.service", "FULLYLOADED_MONITOR_OPTIONS"),
        ] {
            let text = try String(contentsOfFile: TestFiles.checkout + "/Deploy/systemd/" + unit, encoding: .utf8)
            let execStart = try #require(try Self.matches(#"^ExecStart=(.*)$"#, in: text).first)
            #expect(execStart.hasSuffix("$" + variable), "\(unit): \(execStart)")
            #expect(section.contains("`\(variable)`"))
            let words = execStart.split(separator: " ").map(String.init)
            for (index, word) in words.enumerated() where word.hasPrefix("--") {
                let value = words[index + 1]
                let spelled =
                    word.contains("=") || value.hasPrefix("--") || value.hasPrefix("$") ? word : "\(word) \(value)"
                fixed += 1
                #expect(section.contains("`\(spelled)`"), "operations.md does not say \(unit) fixes \(spelled)")
            }
        }
        #expect(fixed >= 6, "\(fixed) fixed flags")
    }

    @Test("every log event the code can write is in operations.md's table of events")
    func logEventsDocumented() throws {
        let operations = try String(contentsOfFile: TestFiles.checkout + "/Docs/operations.md", encoding: .utf8)
        let table = try #require(
            operations.components(separatedBy: "## Logs").dropFirst().first?.components(separatedBy: "\n## ").first)
        let sources = TestFiles.checkout + "/Sources"
        let files = try #require(FileManager.default.enumerator(atPath: sources)?.allObjects as? [String])
        // log.info("event", …) and the like, the event on the call's line or the next.
        let call = #/\b(?:log|logger)\.(?:trace|debug|info|notice|warning|error|critical)\(\s*"((?:[^"\\]|\\.)*)"/#
        var events = Set<String>()
        for file in files where file.hasSuffix(".swift") {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for match in text.matches(of: call) { events.insert(String(match.output.1)) }
        }
        // Interpolated: up logs the supervisor's replacement reasons as the event.
        let interpolated = events.filter { $0.contains("\\(") }
        #expect(interpolated == [#"\(reason)"#], "events the table cannot list: \(interpolated)")
        events.subtract(interpolated)
        #expect(events.count >= 20, "\(events.sorted())")
        for event in events.sorted() {
            #expect(table.contains("`\(event)`"), "the log event \(event) is not in operations.md")
        }
        for reason in ["rolled", "recycled"] { #expect(table.contains("`\(reason)`")) }
    }

    @Test(
        "operations.md's valid ranges are the binary's own table, and each command's --help shows each range on its flag"
    )
    func validRangesAreTheBinarys() throws {
        let operations = try String(contentsOfFile: TestFiles.checkout + "/Docs/operations.md", encoding: .utf8)
        let printed = try Command.run(try TestBinary.path, ["flag-ranges"])
        #expect(printed.status == 0, "\(printed.output)")
        let table = printed.output.trimmingCharacters(in: .newlines)
        #expect(table.split(separator: "\n").count > 10, "\(table)")
        #expect(
            operations.contains("\n" + table + "\n\n"), "operations.md's valid ranges differ: run Deploy/dev.sh flags")
        for row in table.split(separator: "\n").dropFirst(2) {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let flags = try Self.matches(#"`(--[a-z-]+)`"#, in: cells[0])
            let commands = try Self.matches(#"`([a-z-]+)`"#, in: cells[1])
            // The range itself, without the note that may follow it.
            let range = cells[2].components(separatedBy: ", `").first ?? ""
            for command in commands {
                let help = try Self.help(command)
                for flag in flags {
                    // The flag's own entry: from its line to the next flag's.
                    let entry = try #require(
                        help.components(separatedBy: "\n  " + flag + " ").dropFirst().first?
                            .components(separatedBy: "\n  --").first, "\(command) --help has no \(flag)")
                    let flat = entry.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                    #expect(flat.contains(range), "\(command) \(flag): --help does not say \(range): \(flat)")
                }
            }
        }
    }

    @Test("operations.md's valid ranges are what each command refuses: run past each bound, it fails naming the range")
    func validRanges() throws {
        let operations = try String(contentsOfFile: TestFiles.checkout + "/Docs/operations.md", encoding: .utf8)
        let table = try #require(
            operations.components(separatedBy: "## Valid ranges").dropFirst().first?.components(separatedBy: "\n## ")
                .first)
        let socket = "unix:/nonexistent/fl-ranges.sock"
        // (the row's flag cell, commands cell, range cell), and invocations past the bounds.
        let rows: [(flags: String, commands: String, range: String, runs: [[String]])] = [
            (
                "`--deadline`", "`up`, `worker`, `nginx-upstreams`", "(0, 600] seconds",
                [
                    ["worker", "--listen", socket, "--deadline", "600.5"], ["up", "--deadline", "0"],
                    ["nginx-upstreams", "--workers", "1", "--deadline", "601"],
                ]
            ),
            (
                "`--compute-slots`", "`up`, `worker`", "1...256",
                [["worker", "--listen", socket, "--compute-slots", "257"]]
            ),
            ("`--headroom`", "`up`, `worker`", "(0, 1]", [["up", "--headroom", "1.01"]]),
            (
                "`--lanes`", "`up`, `worker`", "1...4",
                [["worker", "--listen", socket, "--lanes", "5"], ["up", "--lanes", "0"]]
            ),
            ("`--refusal-rate`", "`up`, `worker`", "0 or more", [["worker", "--listen", socket, "--refusal-rate=-1"]]),
            (
                "`--threads`", "`worker`, `nginx-upstreams`", "1...4096",
                [
                    ["worker", "--listen", socket, "--threads", "4097"],
                    ["nginx-upstreams", "--workers", "1", "--threads", "0"],
                ]
            ),
            ("`--workers`", "`nginx-upstreams`", "1...1024", [["nginx-upstreams", "--workers", "1025"]]),
            (
                "`--interval`", "`monitor`", "0.05...10 seconds",
                [["monitor", "--listen", socket, "--interval", "0.04"]]
            ),
            (
                "`--ws-idle-seconds`", "`monitor`", "1...86400",
                [["monitor", "--listen", socket, "--ws-idle-seconds", "0"]]
            ),
            (
                "`--rate-limit`, `--max-requests`", "`up`", "0 or more",
                [["up", "--rate-limit=-1"], ["up", "--max-requests=-1"]]
            ),
            ("`--samples`", "`calibrate`", "1...1000", [["calibrate", "--samples", "1001"]]),
            ("`--threads`", "`calibrate`", "1...256", [["calibrate", "--threads", "257"]]),
            ("`--lanes`", "`calibrate`", "0...4", [["calibrate", "--lanes", "5"]]),
        ]
        for row in rows {
            #expect(
                table.contains("| \(row.flags) | \(row.commands) | \(row.range) |"),
                "no row for \(row.flags) \(row.commands)")
            for arguments in row.runs {
                let run = try Command.run(try TestBinary.path, arguments)
                #expect(
                    run.status != 0 && run.output.contains("must be") && run.output.contains(row.range),
                    "\(arguments): \(run.output)")
            }
        }
        // The costs: bcrypt's own range, and their order.
        #expect(table.contains("| `--cost`, `--min-cost`, `--max-cost` | `up`, `worker` | 4...31,"))
        let dear = try Command.run(
            try TestBinary.path, ["worker", "--listen", socket, "--cost", "32", "--max-cost", "32"])
        #expect(dear.status != 0 && dear.output.contains("4...31"), "\(dear.output)")
        let order = try Command.run(
            try TestBinary.path, ["worker", "--listen", socket, "--min-cost", "8", "--max-cost", "6"])
        #expect(order.status != 0, "\(order.output)")
    }
}
