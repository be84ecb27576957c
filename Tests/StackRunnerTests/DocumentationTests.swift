import Foundation
import StackRunner
import StackTestSupport
import Testing

/// The docs name only what exists: files, links, flags; the flag reference is the binary's own help.
@Suite("documentation")
struct DocumentationTests {
    static let commands = ["up", "worker", "monitor", "calibrate", "nginx-upstreams"]
    /// Flags of other tools the docs show in commands: schemathesis, systemd-analyze, certbot.
    static let otherToolsFlags: Set<String> = [
        "--checks", "--generation-codec", "--url", "--offline", "--webroot", "--deploy-hook",
    ]

    static func documents() throws -> [(path: String, text: String)] {
        let docs = TestFiles.checkout + "/Docs"
        let names = try FileManager.default.contentsOfDirectory(atPath: docs).filter { $0.hasSuffix(".md") }
        return try (["README.md"] + names.map { "Docs/" + $0 }).map {
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
}
