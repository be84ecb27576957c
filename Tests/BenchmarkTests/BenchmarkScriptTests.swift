import Foundation
import POSIXSupport
import StackTestSupport
import Testing

/// What a benchmark script published into `out`: its section of the page, and its rows of the
/// CSV history, each a lookup by column name.
enum PublishedRun {
    static func read(_ script: String, page name: String = "benchmarks.md", in out: String) throws -> (
        page: String, rows: [(String) -> String]
    ) {
        let page = try String(contentsOfFile: out + "/" + name, encoding: .utf8)
        #expect(page.contains("<!-- BEGIN \(script).sh: written by Deploy/bench/\(script).sh"), "\(page)")
        let lines = try String(contentsOfFile: out + "/data/\(script).csv", encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        let rows = lines.dropFirst().map { line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return { (column: String) in header.firstIndex(of: column).map { cells[$0] } ?? "" }
        }
        return (page, rows)
    }
}

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
        let (page, rows) = try PublishedRun.read("rounds", in: out)
        #expect(page.contains("Reading:\n- **sync**: "), "\(page)")
        #expect(rows.count == systems.count * 2)
        for field in rows {
            // Every system answered hashes at every level, and none failed outright.
            #expect(Int(field("ok")) ?? 0 > 0, "no 200 at \(field("system")) c = \(field("concurrency"))")
            #expect(field("other") == "0", "failures at \(field("system")) c = \(field("concurrency"))")
        }
        for plot in ["throughput", "latency", "cheap"] {
            let svg = try String(contentsOfFile: out + "/rounds-\(plot).svg", encoding: .utf8)
            #expect(svg.contains("<svg"))
            for system in systems { #expect(svg.contains(">\(system)<"), "\(plot) plot lacks \(system)") }
        }
    }
}

/// The open-loop benchmark (Deploy/bench/openloop.sh) end to end, in its quick mode.
@Suite("open-loop benchmark", .serialized)
struct OpenLoopBenchmarkScriptTests {
    @Test("openloop.sh --quick offers arrivals to fullyloaded and PHP-FPM and writes its tables, CSV and plots")
    func quickRun() throws {
        let out = try TestFiles.makeTemporaryDirectory(prefix: "fl-openloop")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Command.run(
            "/bin/bash",
            [
                TestFiles.checkout + "/Deploy/bench/openloop.sh", "--quick", "--binary", try TestBinary.path, "--out",
                out,
            ])
        #expect(run.status == 0, "\(run.output.suffix(3000))")
        let systems = ["fullyloaded", "php-fpm"]
        for system in systems { #expect(run.output.contains("**\(system)**"), "no table for \(system)") }
        // The run is the page's open-loop section, and its rows are the history's.
        let (page, rows) = try PublishedRun.read("openloop", in: out)
        #expect(page.contains("`Deploy/bench/openloop.sh --quick --binary "), "no command in \(page)")
        #expect(page.contains("**fullyloaded**") && page.contains("Reading:"), "\(page)")
        #expect(rows.count == systems.count * 2)
        for field in rows {
            let row = field("system") + " at " + field("multiple") + "×"
            #expect(Int(field("ok")) ?? 0 > 0, "no 200 in \(row)")
            #expect(
                (Int(field("ok_within_steady")) ?? .max) <= (Int(field("ok_within")) ?? -1)
                    && (Int(field("ok_within")) ?? .max) <= (Int(field("ok")) ?? -1), "\(row)")
            #expect(field("other") == "0", "statuses other than 200 and 503 in \(row)")
            #expect(field("run_at").hasSuffix("Z") && !field("machine").isEmpty, "\(row)")
            // Arrivals came at the rate asked for, not at the pace of the answers.
            #expect((Double(field("achieved")) ?? 0) >= 0.8 * (Double(field("offered")) ?? .infinity), "\(row)")
            if field("system") == "fullyloaded" {
                #expect((Double(field("ok_max")) ?? .infinity) <= 2.05 && field("unanswered") == "0", "\(row)")
            }
        }
        for plot in ["goodput", "latency", "cheap"] {
            let svg = try String(contentsOfFile: out + "/openloop-\(plot).svg", encoding: .utf8)
            for system in systems { #expect(svg.contains(">\(system)<"), "\(plot) plot lacks \(system)") }
        }
    }
}

/// The open-loop benchmark's mixed level: argon2id beside bcrypt under a memory budget.
@Suite("open-loop benchmark, mixed algorithms", .serialized)
struct OpenLoopMixedBenchmarkScriptTests {
    @Test("openloop.sh --quick with fullyloaded-mixed: both algorithms answered within N, the workers' memory sampled")
    func mixedQuickRun() throws {
        let out = try TestFiles.makeTemporaryDirectory(prefix: "fl-openloop-mixed")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Command.run(
            "/bin/bash",
            [
                TestFiles.checkout + "/Deploy/bench/openloop.sh", "--quick", "--systems", "fullyloaded-mixed",
                "--multiples", "2", "--binary", try TestBinary.path, "--out", out,
            ])
        #expect(run.status == 0, "\(run.output.suffix(3000))")
        let (page, rows) = try PublishedRun.read("openloop", in: out)
        #expect(page.contains("**fullyloaded-mixed** at 2×: within N, "), "\(page)")
        let field = try #require(rows.first)
        #expect(rows.count == 1)
        #expect(Double(field("work_within_steady")) ?? 0 > 0, "\(page)")
        // Half the arrivals were argon2id verifies, and some of them were answered in time.
        #expect(Int(field("mix_sent")) ?? 0 > 0 && Int(field("mix_ok_within_steady")) ?? 0 > 0, "\(page)")
        #expect(Int(field("mix_ok_within_steady")) ?? .max <= Int(field("ok_within_steady")) ?? -1)
        #expect((Double(field("ok_max")) ?? .infinity) <= 2.05 && field("unanswered") == "0", "\(page)")
        #expect(field("other") == "0", "statuses other than 200 and 503: \(page)")
        // The hashes' memory showed in the workers' resident memory: at least one argon2id job's
        // 19 MiB over idle. The budget is one job's per core.
        let overIdle = (Double(field("rss_peak_mib")) ?? 0) - (Double(field("rss_baseline_mib")) ?? 0)
        #expect(overIdle >= 15, "RSS rose \(overIdle) MiB")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(field("memory_budget_mib") == String((19456 * cores + 1023) / 1024))
    }
}

/// The admission benchmark (Deploy/bench/admission.sh), briefly.
@Suite("admission benchmark", .serialized)
struct AdmissionBenchmarkScriptTests {
    @Test("admission.sh drives the real controller with many waiters and many keys and prints its summary line")
    func shortRun() throws {
        let out = try TestFiles.makeTemporaryDirectory(prefix: "fl-admission")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Command.run(
            "/usr/bin/env",
            [
                "BIN=\(try TestBinary.path)", "/bin/bash", TestFiles.checkout + "/Deploy/bench/admission.sh",
                "--levels", "1:10 300:300", "--seconds", "1", "--slots", "16", "--out", out,
            ])
        #expect(run.status == 0, "\(run.output)")
        let last = try #require(run.output.split(separator: "\n").last.map(String.init))
        #expect(last.hasPrefix("per-job admission CPU: "), "\(run.output)")
        #expect(last.contains("at 1 keys, 10 queued") && last.contains("at 300 keys, 300 queued ("), "\(last)")
        // Every job completed in the window went through admit, a slot and finish: jobs flowed.
        let row = try #require(
            run.output.split(separator: "\n").first { $0.hasPrefix("| 300 | 300 | ") }, "\(run.output)")
        let jobs = Double(row.split(separator: "|")[2].split(separator: " ")[0]) ?? 0
        #expect(jobs > 0, "\(row)")
        let (_, rows) = try PublishedRun.read("admission", in: out)
        #expect(rows.map { $0("keys") + ":" + $0("queued") } == ["1:10", "300:300"])
        #expect(rows.allSatisfy { !$0("run_at").isEmpty && Double($0("jobs_per_second")) ?? 0 > 0 })
    }
}

/// The fair-share benchmark (Deploy/bench/fairness.sh) end to end, in its quick mode.
@Suite("fair-share benchmark", .serialized)
struct FairnessBenchmarkScriptTests {
    @Test("fairness.sh --quick runs its scenarios with fairness on and off and writes its tables, CSV and plot")
    func quickRun() throws {
        let out = try TestFiles.makeTemporaryDirectory(prefix: "fl-fairness")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let systems = ["fairness-on", "fairness-off"]
        let run = try Command.run(
            "/bin/bash",
            [
                TestFiles.checkout + "/Deploy/bench/fairness.sh", "--quick", "--systems",
                systems.joined(separator: " "),
                "--binary", try TestBinary.path, "--out", out,
            ])
        #expect(run.status == 0, "\(run.output.suffix(3000))")
        #expect(run.output.contains("**one client at 20× capacity, one light client at 0.25×**"), "\(run.output)")
        #expect(run.output.contains("**one client in a closed loop of 64 connections"), "\(run.output)")
        let (page, rows) = try PublishedRun.read("fairness", in: out)
        #expect(page.contains("Reading:\n- **fairness-on**: the worst light client got "), "\(page)")
        #expect(rows.count == 2 * systems.count)
        for field in rows {
            let row = field("system") + " in " + field("scenario")
            #expect(systems.contains(field("system")) && ["flood", "storm"].contains(field("scenario")), "\(row)")
            // The light client sent and was measured; the hashing went on.
            #expect(Double(field("light_min")) != nil && Double(field("goodput_ratio")) ?? 0 > 0, "\(row)")
        }
        let svg = try String(contentsOfFile: out + "/fairness-light.svg", encoding: .utf8)
        for system in systems { #expect(svg.contains(">\(system)<"), "the plot lacks \(system)") }
    }
}
