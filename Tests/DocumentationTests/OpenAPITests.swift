import Foundation
import POSIXSupport
import StackTestSupport
import Testing

/// `Docs/openapi.yaml` is what the running stack does: schemathesis generates requests from it,
/// valid and invalid, and checks every answer against it.
@Suite("the OpenAPI description", .serialized)
struct OpenAPITests {
    static let specification = TestFiles.checkout + "/Docs/openapi.yaml"
    /// Installed by `Deploy/dev.sh deps` (pinned in `Deploy/test-tools.txt`).
    static let schemathesis = TestFiles.checkout + "/.build/tools/venv/bin/st"

    @Test("schemathesis's generated requests, valid and invalid, get only answers the description allows")
    func schemathesisConforms() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.schemathesis),
            "schemathesis is missing: run Deploy/dev.sh deps")
        // The description's cost range is a deployment's default (10...14); the stack here allows
        // 4...6, so that hundreds of hashes take seconds. Only those bounds change.
        var text = try String(contentsOfFile: Self.specification, encoding: .utf8)
        for (from, to) in [
            ("      minimum: 10\n      maximum: 14\n", "      minimum: 4\n      maximum: 6\n"),
            (#"(0[4-9]|1[0-4])"#, #"(0[4-6])"#),
        ] {
            try #require(text.contains(from), "the description no longer has \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        let stack = try TestStack(workers: 2, cost: 5, arguments: ["--max-cost", "6"])
        defer { _ = try? stack.stop() }
        let directory = stack.runtimeDirectory + "-schemathesis"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/openapi.yaml", atomically: true, encoding: .utf8)
        let run = try Command.run(
            "/usr/bin/env",
            [
                "-C", directory, Self.schemathesis, "run", directory + "/openapi.yaml",
                "--url", "http://127.0.0.1:\(stack.port)", "--checks", "all", "--max-examples", "150",
                // A 503 is the promise at work, and described: a generated argon2id hash may ask for
                // more work than N allows, or queue behind one that does (beside a busy
                // neighbour more so). Its status, headers and body are still checked against
                // the description by the other checks; nginx's log is checked below for any
                // other 5xx.
                "--exclude-checks", "not_a_server_error",
                // JSON Schema counts characters, bcrypt bytes: ASCII keeps "72 long" one meaning.
                "--generation-codec", "ascii", "--generation-allow-x00", "false", "--no-color",
                "--request-timeout", "10",
            ])
        #expect(run.status == 0, "\(run.output)")
        // It ran every operation and many cases, not nothing.
        #expect(run.output.contains("Tested: 8"), "\(run.output)")
        let generated = run.output.split(separator: "\n").first { $0.contains(" generated, ") }
        let count = generated.flatMap { Int($0.split(separator: " ").first ?? "") } ?? 0
        #expect(count >= 200, "\(generated ?? "no count")")
        // No server error but a refusal: the only 5xx is 503 (overloaded, or no worker free).
        // nginx's log is complete once the stack has stopped.
        _ = try stack.stop()
        let statuses = stack.accessLog.compactMap { $0["status"] as? Int }
        #expect(statuses.count >= count, "nginx logged \(statuses.count) requests of \(count)")
        let serverErrors = statuses.filter { $0 >= 500 && $0 != 503 }
        #expect(serverErrors.isEmpty, "server errors: \(serverErrors)")
        // Nothing it sent crashed a worker.
        #expect(!stack.log.contains(#""event":"crashed""#), "\(stack.log)")
    }

    @Test("every error code the workers and nginx answer with is in the description, and nothing else")
    func errorCodesMatchTheSources() throws {
        let text = try String(contentsOfFile: Self.specification, encoding: .utf8)
        let enumLines = text.components(separatedBy: "          enum:\n").dropFirst().first ?? ""
        let documented = Set(
            enumLines.split(separator: "\n").prefix { $0.hasPrefix("            - ") }.map {
                String($0.dropFirst("            - ".count))
            })
        var answered = Set<String>()
        let patterns = [
            #"code: "([a-z_]+)""#, #"badRequest\(\s*"([a-z_]+)""#, #"\("error", \.string\("([a-z_]+)"\)"#,
            #"\{"error":"([a-z_]+)""#,
        ]
        for folder in ["Sources/PasswordService", "Sources/Bcrypt", "nginx/snippets", "nginx/sites"] {
            let root = TestFiles.checkout + "/" + folder
            for file in try FileManager.default.contentsOfDirectory(atPath: root) {
                let source = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
                for pattern in patterns {
                    let expression = try NSRegularExpression(pattern: pattern)
                    for match in expression.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                        answered.insert(String(source[Range(match.range(at: 1), in: source)!]))
                    }
                }
            }
        }
        #expect(answered.count >= 15, "\(answered.sorted())")
        #expect(
            answered == documented,
            "answered, not documented: \(answered.subtracting(documented).sorted()); documented, never answered: \(documented.subtracting(answered).sorted())"
        )
        let api = try String(contentsOfFile: TestFiles.checkout + "/Docs/api.md", encoding: .utf8)
        for code in documented {
            #expect(api.contains("`\(code)`"), "Docs/api.md does not list \(code)")
        }
    }

    @Test("every refusal reason the workers give is in the description, in the header's too, and in Docs/api.md")
    func refusalReasonsMatchTheSources() throws {
        let text = try String(contentsOfFile: Self.specification, encoding: .utf8)
        let source = try String(
            contentsOfFile: TestFiles.checkout + "/Sources/PasswordService/ExpensiveJob.swift", encoding: .utf8)
        let enumeration =
            try #require(source.components(separatedBy: "public enum OverloadReason").last)
            .components(separatedBy: "\n}").first ?? ""
        let given = Set(enumeration.matches(of: /case [a-zA-Z]+ = "([a-z_]+)"/).map { String($0.output.1) })
        #expect(given.count == 5, "\(given)")
        let body = try #require(text.components(separatedBy: "        reason:\n").last)
        let listed = Set(
            body.split(separator: "\n").drop { !$0.hasSuffix("enum:") }.dropFirst()
                .prefix { $0.hasPrefix("            - ") }.map { String($0.dropFirst("            - ".count)) })
        #expect(listed == given, "documented \(listed.sorted()), given \(given.sorted())")
        let header = try #require(
            text.components(separatedBy: "    Refusal:\n").last?.split(separator: "\n").first {
                $0.contains("enum: [")
            })
        let inHeader = Set(
            (header.split(separator: "[").last?.split(separator: "]").first ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            })
        #expect(inHeader == given, "the Fullyloaded-Refusal header lists \(inHeader.sorted())")
        let api = try String(contentsOfFile: TestFiles.checkout + "/Docs/api.md", encoding: .utf8)
        for reason in given {
            #expect(api.contains("| `\(reason)` |"), "Docs/api.md does not list the reason \(reason)")
        }
    }
}
