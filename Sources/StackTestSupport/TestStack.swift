import Foundation
import LoopbackHTTP
import POSIXSupport
import StackRunner

/// A real `fullyloaded up` (nginx + worker processes) on a free loopback port, for tests.
public final class TestStack: @unchecked Sendable {
    /// The `up` process.
    public let process: ChildProcess
    /// The port nginx serves plain HTTP on.
    public let port: UInt16
    /// The port nginx serves HTTPS (HTTP/2) on, with a certificate made for this stack.
    public let httpsPort: UInt16
    /// The runtime directory `up` was given.
    public let runtimeDirectory: String
    /// Where `up` writes its stdout and stderr.
    public let logPath: String

    /// Starts `fullyloaded up` with `arguments` added, and waits until it says it is ready (as it
    /// prints its URL) and `/api/ping` answers through nginx; `runtimeDirectory`, when given, is a
    /// fresh path for `--runtime-dir`.
    public init(workers: Int = 2, cost: Int = 5, arguments: [String] = [], runtimeDirectory given: String? = nil)
        throws
    {
        port = try LoopbackPort.ephemeral()
        var https = try LoopbackPort.ephemeral()
        while https == port { https = try LoopbackPort.ephemeral() }
        httpsPort = https
        runtimeDirectory = try given ?? TestFiles.makeTemporaryDirectory(prefix: "fl-stack")
        logPath = runtimeDirectory + ".log"
        process = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "up", "--http-port", "\(port)", "--workers", "\(workers)", "--cost", "\(cost)",
                "--runtime-dir", runtimeDirectory, "--threads", "64", "--https-port", "\(https)",
                "--tls-dir", runtimeDirectory + "-tls",
            ] + (arguments.contains("--min-cost") ? [] : ["--min-cost", "4"]) + arguments,
            standardOutput: logPath)
        let client = LoopbackHTTPClient(port: port, timeout: 2)
        let deadline = MonotonicClock.now + 60
        // A ping may pass before up has seen its own: up supervises its children only from then on.
        while !log.contains(#""event":"ready""#) || client.status(of: "/api/ping") != 200 {
            if let status = try process.reapIfEnded() {
                throw TestStackError.exited(status, log: log)
            }
            if MonotonicClock.now > deadline {
                _ = try? process.stop(grace: 5)
                throw TestStackError.notReady(log: log)
            }
            usleep(50_000)
        }
    }

    /// A client for nginx's port.
    public func client(timeout: Double = 10) -> LoopbackHTTPClient {
        LoopbackHTTPClient(port: port, timeout: timeout)
    }

    /// What `up` printed so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// nginx's JSON access log, one object per request (complete once the stack is stopped:
    /// nginx buffers it for up to a second).
    public var accessLog: [[String: Any]] {
        let text = (try? String(contentsOfFile: runtimeDirectory + "/access.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// The processes `up` started (nginx master and workers), from /proc.
    public var childProcesses: [(pid: Int32, command: String)] { ProcessTable.children(of: process.pid) }

    /// The shared segments the workers map (their `--segment`), one per host, sorted.
    public var segmentPaths: [String] {
        var paths = Set<String>()
        for (_, command) in childProcesses where command.contains(" worker ") {
            // `up` writes `--segment=PATH`; an operator may write `--segment PATH`.
            let words = command.split(separator: " ").map(String.init)
            if let word = words.first(where: { $0.hasPrefix("--segment=") }) {
                paths.insert(String(word.dropFirst("--segment=".count)))
            } else if let flag = words.firstIndex(of: "--segment"), flag + 1 < words.count {
                paths.insert(words[flag + 1])
            }
        }
        return paths.sorted()
    }

    /// The worker processes' pids.
    public var workerProcessIDs: [Int32] {
        childProcesses.filter { $0.command.contains(" worker ") }.map(\.pid)
    }

    /// Stops `up` with SIGTERM and returns how it exited.
    @discardableResult
    public func stop() throws -> ExitStatus {
        try process.stop(signal: SIGTERM, grace: 20)
    }

    deinit {
        if (try? process.reapIfEnded()) == nil {
            _ = try? process.stop(grace: 10)
        }
        try? FileManager.default.removeItem(atPath: logPath)
        try? FileManager.default.removeItem(atPath: runtimeDirectory + "-tls")
    }
}

/// Why a test stack did not come up.
public enum TestStackError: Error, CustomStringConvertible {
    case exited(ExitStatus, log: String)
    case notReady(log: String)

    public var description: String {
        switch self {
        case .exited(let status, let log): "fullyloaded up \(status):\n\(log)"
        case .notReady(let log): "fullyloaded up did not answer /api/ping:\n\(log)"
        }
    }
}

/// The `fullyloaded` binary built next to the test bundle (override: FULLYLOADED_BINARY).
public enum TestBinary {
    public static var path: String {
        get throws {
            if let override = ProcessInfo.processInfo.environment["FULLYLOADED_BINARY"] { return override }
            let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let candidate = URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent(
                "fullyloaded"
            ).path
            guard FileManager.default.isExecutableFile(atPath: candidate) else {
                throw TestStackError.notReady(log: "no fullyloaded binary at \(candidate); run `swift build` first")
            }
            return candidate
        }
    }
}

/// Temporary files for tests.
public enum TestFiles {
    /// The repository's root folder (this file is at Sources/StackTestSupport/ in it).
    public static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// A new, empty directory under /tmp (short, so unix socket paths fit).
    public static func makeTemporaryDirectory(prefix: String) throws -> String {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemCallError(call: "mkdtemp", errno: errno) }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// Reads the process table from /proc.
public enum ProcessTable {
    /// Processes whose parent is `parent`, with their command lines.
    public static func children(of parent: Int32) -> [(pid: Int32, command: String)] {
        allProcesses().filter { $0.parent == parent }.map { ($0.pid, $0.command) }
    }

    /// Every process whose command line contains `text`.
    public static func processes(commandContaining text: String) -> [Int32] {
        allProcesses().filter { $0.command.contains(text) }.map(\.pid)
    }

    /// Whether `pid` exists (and is not a zombie).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }

    /// User plus system CPU time of `pid`, in clock ticks.
    public static func cpuTicks(of pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        // Fields after the command: state(0) ppid(1) … utime(11) stime(12).
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }

    private static func allProcesses() -> [(pid: Int32, parent: Int32, command: String)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry in
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 1, fields[0] != "Z", let parent = Int32(fields[1]) else { return nil }
            let raw = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
            let command = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return (pid, parent, command)
        }
    }
}
