import CommandLineOptions
import Foundation
import StackTestSupport
import Testing

@Suite("WorkerOptions: the worker's command line as a value")
struct WorkerOptionsTests {
    /// Every option away from its default, with values that need care on a command line: a
    /// negative niceness, fractions, a repeated option.
    static var everyOptionChanged: WorkerOptions {
        var options = WorkerOptions.defaults
        options.threads = 7
        options.expensiveThreads = 3
        options.socketMode = "660"
        options.allowPeer = ["10.0.0.5", "10.0.0.0/24"]
        options.maxBody = 2048
        options.costs.cost = 5
        options.costs.minCost = 4
        options.costs.maxCost = 13
        options.costs.pepperFile = "/etc/fullyloaded/pepper"
        options.costs.algorithm = .argon2id
        options.costs.argon2Memory = 8192
        options.costs.argon2Passes = 3
        options.costs.argon2Lanes = 2
        options.admission.deadline = 3.5
        options.admission.computeSlots = 3
        options.admission.headroom = 0.75
        options.admission.estimateSeconds = 0.125
        options.admission.computeNiceness = -5
        options.admission.refusalRate = 12.5
        options.admission.fairness = .off
        options.admission.lanes = 4
        options.admission.hashMemory = 512
        options.segment = "/run/elsewhere/segment"
        options.noAdmission = true
        options.execution = .background
        options.maxRequests = 1000
        options.maxRequestsJitter = 100
        options.recycleByParent = true
        options.exitWithParent = true
        return options
    }

    @Test("every option survives rendering and parsing back")
    func roundTrip() throws {
        let options = Self.everyOptionChanged
        let parsed = try WorkerOptions.parse(options.arguments)
        #expect(OptionValues.of(parsed) == OptionValues.of(options))
    }

    /// A new option the fixture does not change, or that `arguments` forgets, fails here or above.
    @Test("the round trip's fixture changes every option, groups included")
    func fixtureCoversEveryOption() {
        let defaults = OptionValues.of(WorkerOptions.defaults)
        let changed = OptionValues.of(Self.everyOptionChanged)
        #expect(defaults.keys.sorted() == changed.keys.sorted())
        #expect(defaults.keys.contains("costs.argon2Lanes") && defaults.keys.contains("admission.hashMemory"))
        #expect(defaults.count >= 29, "only \(defaults.keys.sorted())")
        let unchanged = defaults.keys.filter { defaults[$0] == changed[$0] }
        #expect(unchanged.isEmpty, "not changed by the fixture: \(unchanged.sorted())")
    }

    @Test("the defaults render to a line that parses back to the defaults")
    func defaultsRoundTrip() throws {
        let defaults = WorkerOptions.defaults
        #expect(OptionValues.of(try WorkerOptions.parse(defaults.arguments)) == OptionValues.of(defaults))
        // Flags off and options without a value say nothing.
        #expect(!defaults.arguments.contains { $0.hasPrefix("--expensive-threads") || $0 == "--no-admission" })
    }

    @Test("a rendered line is refused where the worker would refuse it")
    func validationApplies() {
        var options = WorkerOptions.defaults
        options.admission.headroom = 1.5
        #expect(throws: (any Error).self) { try WorkerOptions.parse(options.arguments) }
    }

    @Test("the worker unit's ExecStart and the shipped options file parse with these options")
    func systemdUnit() throws {
        let words = try ExecStartLine.words(
            unit: "Deploy/systemd/fullyloaded-worker@.service", command: "worker",
            optionsVariable: WorkerOptions.environmentVariable)
        #expect(words.listen == "systemd")
        let parsed = try WorkerOptions.parse(words.rest)
        #expect(parsed.segment == WorkerOptions.defaultSegment)
        let shipped = try WorkerOptions.fromEnvironmentFile(TestFiles.checkout + "/Deploy/debian/default")
        #expect(OptionValues.of(shipped) == OptionValues.of(WorkerOptions.defaults))
    }

    @Test("the options file is read with the worker's parser, in either spelling")
    func environmentFile() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-options")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/default"
        for line in [
            #"FULLYLOADED_WORKER_OPTIONS="--deadline=3 --threads 64""#,
            "FULLYLOADED_WORKER_OPTIONS='--deadline 3 --threads=64'",
        ] {
            try (line + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let options = try WorkerOptions.fromEnvironmentFile(path)
            #expect(options.admission.deadline == 3)
            #expect(options.threads == 64)
        }
        try "FULLYLOADED_WORKER_OPTIONS=\"--deadlin 3\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try WorkerOptions.fromEnvironmentFile(path) }
    }
}

/// An ExecStart line of a shipped unit, split into words.
enum ExecStartLine {
    struct Words {
        var listen: String
        /// The words after the command but `--listen` and its value, and the options variable.
        var rest: [String]
    }

    static func words(unit: String, command: String, optionsVariable: String) throws -> Words {
        let text = try String(contentsOfFile: TestFiles.checkout + "/" + unit, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        var words = line.dropFirst("ExecStart=".count).split(separator: " ").map(String.init)
        #expect(Array(words.prefix(2)) == ["/usr/bin/fullyloaded", command])
        #expect(words.last == "$" + optionsVariable, "the unit appends \(optionsVariable) last")
        words = Array(words.dropFirst(2).dropLast())
        let listen = try #require(words.firstIndex(of: "--listen"))
        let place = words[listen + 1]
        words.removeSubrange(listen...(listen + 1))
        return Words(listen: place, rest: words)
    }
}
