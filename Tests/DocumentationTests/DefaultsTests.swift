import Foundation
import StackTestSupport
import Testing

/// Every default has one source (`Sources/ServiceDefaults`, `Argon2Parameters.owasp`), which
/// `fullyloaded defaults` prints: the commands' help, the package's options file, the docs'
/// table of knobs and the benchmark scripts agree with it, and nothing else spells the numbers.
/// Changing a default there changes it in each of these, or one of these checks fails.
@Suite("defaults")
struct DefaultsTests {
    static func defaults() throws -> [String: Double] {
        let run = try Command.run(try TestBinary.path, ["defaults"])
        try #require(run.status == 0, "\(run.output)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: NSNumber], "\(run.output)")
        return object.mapValues(\.doubleValue)
    }

    @Test("`fullyloaded defaults` prints every default, and --get one of them bare")
    func printsDefaults() throws {
        let defaults = try Self.defaults()
        for flag in ["deadline", "headroom", "refusal-rate", "cost", "min-cost", "max-cost", "threads"] {
            #expect(defaults[flag] != nil, "\(flag) missing from \(defaults)")
        }
        let cost = try Command.run(try TestBinary.path, ["defaults", "--get", "cost"])
        #expect(
            cost.status == 0 && Double(cost.output.trimmingCharacters(in: .whitespacesAndNewlines)) == defaults["cost"])
        let unknown = try Command.run(try TestBinary.path, ["defaults", "--get", "costs"])
        #expect(unknown.status != 0 && unknown.output.contains("one of: deadline"), "\(unknown.output)")
    }

    @Test("every command's --help shows the same default for every flag it takes")
    func helpAgrees() throws {
        let defaults = try Self.defaults()
        var seen = 0
        for command in DocumentationTests.commands {
            // ArgumentParser wraps help text: join the lines of each flag's entry first.
            let help = try DocumentationTests.help(command).replacingOccurrences(
                of: #"\n\s{20,}"#, with: " ", options: .regularExpression)
            for (flag, value) in defaults {
                // calibrate's and admission-bench's --threads are hashing threads, not the pool's.
                if flag == "threads", !["up", "worker", "nginx-upstreams"].contains(command) { continue }
                let shown = try DocumentationTests.matches(
                    #"^\s*--\#(flag) <[^>]+>.*?\(default: ([0-9.]+)\)"#, in: help)
                for text in shown {
                    #expect(Double(text) == value, "\(command) --help shows --\(flag) default \(text), not \(value)")
                    seen += 1
                }
            }
        }
        // cost and deadline in up and worker at least, threads in nginx-upstreams, …
        #expect(seen >= 10, "only \(seen) defaults found in the commands' help")
    }

    @Test("the package's options file leaves every default to the binary")
    func packageOptionsRestateNothing() throws {
        let text = try String(contentsOfFile: TestFiles.checkout + "/Deploy/debian/default", encoding: .utf8)
        let flags = try Self.defaults().keys
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            for flag in flags {
                #expect(!line.contains("--\(flag) ") && !line.contains("--\(flag)="), "\(line) restates --\(flag)")
            }
        }
    }

    @Test("the operations guide's table of knobs says the binary's defaults")
    func knobTableAgrees() throws {
        let defaults = try Self.defaults()
        let operations = try String(contentsOfFile: TestFiles.checkout + "/Docs/operations.md", encoding: .utf8)
        func cell(_ knob: String) throws -> String {
            try #require(try DocumentationTests.matches(#"^\| \#(knob) \|[^|]*\| ([^|]+) \|"#, in: operations).first)
        }
        let deadline = try #require(defaults["deadline"])
        #expect(try cell("N") == "\(deadline.formatted(.number)) s")
        #expect(try cell("request threads") == "\(Int(try #require(defaults["threads"])))")
        let costs = ["cost", "min-cost", "max-cost"].compactMap { defaults[$0].map { "\(Int($0))" } }
        #expect(try cell("cost") == costs.joined(separator: ", "))
        #expect(try cell("refusal budget") == "\(Int(try #require(defaults["refusal-rate"]))) / slot / s")
    }

    @Test("benchmark scripts ask the binary for the product's defaults instead of restating them")
    func scriptsAskTheBinary() throws {
        let bench = TestFiles.checkout + "/Deploy/bench"
        var asking = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: bench) where name.hasSuffix(".sh") {
            let text = try String(contentsOfFile: bench + "/" + name, encoding: .utf8)
            for variable in ["COST", "DEADLINE"] {
                // The script's own defaults: the assignments at the start of a line (--quick's
                // smaller figures are a choice of that mode, not a restated default).
                let literal = try DocumentationTests.matches(
                    #"^(?:[A-Z_]+=\S*\s+)*\#(variable)=([0-9][0-9.]*)"#, in: text)
                #expect(literal.isEmpty, "\(name) sets \(variable)=\(literal) itself")
            }
            // Directly, or through lib.sh's bench_start, which asks for the cost and N.
            if text.contains("default_of ") || (name != "lib.sh" && text.contains("bench_start ")) { asking += 1 }
        }
        #expect(asking >= 5, "only \(asking) scripts ask the binary")
        let library = try String(contentsOfFile: bench + "/lib.sh", encoding: .utf8)
        let start = try #require(library.range(of: "bench_start() {").map { library[$0.upperBound...] })
        let body = start[..<(start.range(of: "\n}\n")?.lowerBound ?? start.endIndex)]
        #expect(
            body.contains("COST=${COST:-$(default_of cost)}")
                && body.contains("DEADLINE=${DEADLINE:-$(default_of deadline)}"))
    }

    /// Zero means off or unset (a library's `refusalRate: 0`), not a default to keep in step.
    @Test("no Swift source outside the defaults gives a promise, hash or pool flag a literal default")
    func sourcesSpellNoDefault() throws {
        let sources = TestFiles.checkout + "/Sources"
        let names = [
            "cost", "minCost", "maxCost", "deadline", "headroom", "refusalRate", "computeNiceness", "minimumCost",
            "maximumCost", "requestThreads", "defaultCost", "estimateCost", "predictionCost",
        ]
        let pattern = #"\b(\#(names.joined(separator: "|")))\s*(?::\s*[A-Za-z0-9]+\s*)?=\s*(?!0\b)[0-9]"#
        var found: [String] = []
        let files = FileManager.default.enumerator(atPath: sources)
        while let file = files?.nextObject() as? String {
            // The test harness starts stacks at low costs on purpose; it is not the product.
            guard file.hasSuffix(".swift"), !file.hasPrefix("ServiceDefaults/"), !file.hasPrefix("StackTestSupport/")
            else { continue }
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                if try !DocumentationTests.matches(pattern, in: String(line)).isEmpty {
                    found.append("\(file): \(line)")
                }
            }
        }
        #expect(found.isEmpty, "literal defaults: \(found.joined(separator: "\n"))")
    }
}
