// Longer than most files: the descriptor counts need a monitor process and a segment, started by shared helpers.
import Foundation
import LoopbackHTTP
import POSIXSupport
import StackRunner
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Monitor descriptors", .serialized)
struct MonitorDescriptorTests {
    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Starts a monitor on a loopback TCP port with no segment and no ping target, plus
    /// `arguments`, and waits until it answers.
    static func startMonitor(_ arguments: [String]) throws -> (monitor: ChildProcess, port: UInt16) {
        let port = try LoopbackPort.ephemeral()
        let monitor = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "monitor", "--listen", "127.0.0.1:\(port)", "--ping-port", "1", "--segment",
                "/nonexistent/fl-test-none.\(getpid())",
            ] + arguments,
            standardOutput: "/dev/null")
        let client = LoopbackHTTPClient(port: port, timeout: 1)
        let ready = MonotonicClock.now + 30
        while client.status(of: "/sample") == nil {
            guard MonotonicClock.now < ready else {
                _ = try? monitor.stop(grace: 5)
                throw SystemCallError(call: "the monitor did not answer", errno: ETIMEDOUT)
            }
            usleep(50_000)
        }
        return (monitor, port)
    }

    /// A /proc file read to its end.
    static func readWhole(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0, "open \(path): errno \(errno)")
        defer { close(descriptor) }
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            try #require(count >= 0, "read \(path): errno \(errno)")
            if count == 0 { break }
            text += buffer.prefix(count)
        }
        return String(decoding: text, as: UTF8.self)
    }

    @Test("the monitor maps the shared segment read-only, and still shows the queue")
    func segmentMappedReadOnly() throws {
        let stack = try TestStack(workers: 1, cost: 4)
        defer { _ = try? stack.stop() }
        let segment = try #require(stack.segmentPaths.first)
        let client = stack.client()
        // The slots are the host's cores, read from the segment: none until the monitor maps it.
        func slots(_ metrics: String) -> Double {
            metrics.split(separator: "\n").first { $0.hasPrefix("fullyloaded_compute_slots ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        var metrics = ""
        let until = MonotonicClock.now + 20
        while slots(metrics) == 0, MonotonicClock.now < until {
            metrics = (try? client.request("GET", "/metrics")).map { String(decoding: $0.body, as: UTF8.self) } ?? ""
            usleep(100_000)
        }
        #expect(slots(metrics) >= 1, "the queue's figures from the segment: \(metrics.prefix(600))")
        // The monitor that answered: `up` may have replaced the first one it started.
        let monitor = try #require(stack.childProcesses.first { $0.command.contains(" monitor ") }?.pid)
        // /proc/PID/maps comes in several read()s, each a walk of its own: a mapping made or
        // dropped between two (the monitor's sample copy, 4 times a second) can make the listing
        // skip lines. Read it again until the segment shows, a few times at most.
        var mapped: [Substring] = []
        var maps: [Substring] = []
        for _ in 0..<10 {
            mapped = try Self.readWhole("/proc/\(monitor)/maps").split(separator: "\n")
            maps = mapped.filter { $0.hasSuffix(segment) }
            if !maps.isEmpty { break }
            usleep(50_000)
        }
        let status =
            (try? String(contentsOfFile: "/proc/\(monitor)/status", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("State:") } ?? "?"
        let events = stack.log.split(separator: "\n").filter {
            $0.contains("monitor") && !$0.contains("\"event\":\"ready")
        }
        #expect(
            !maps.isEmpty,
            "the monitor (\(monitor), \(status)) maps \(segment); its /dev/shm maps: \(mapped.filter { $0.contains("/dev/shm") }); \(mapped.count) maps; log: \(events.suffix(8))"
        )
        for line in maps {
            let permissions = line.split(separator: " ")[1]
            #expect(permissions == "r--s", "mapped \(permissions): \(line)")
        }
    }

    @Test("/ws closes a dashboard that says nothing for --ws-idle-seconds, and keeps one that does")
    func idleDashboardsClosed() throws {
        let (monitor, port) = try Self.startMonitor(["--interval", "0.1", "--ws-idle-seconds", "2"])
        defer { _ = try? monitor.stop(grace: 5) }
        let silent = try WebSocketTestClient(port: port, path: "/ws")
        let talking = try WebSocketTestClient(port: port, path: "/ws")
        #expect(silent.status == 101 && talking.status == 101)
        let started = MonotonicClock.now
        var silentClosedAfter: Double?
        var talkingSamples = 0
        while MonotonicClock.now - started < 4.5 {
            try talking.sendText("here")
            if (try? talking.nextText()) != nil { talkingSamples += 1 }
            if silentClosedAfter == nil, (try? silent.nextText()) == nil {
                silentClosedAfter = MonotonicClock.now - started
            }
        }
        let closedAfter = try #require(silentClosedAfter, "the silent dashboard was never closed")
        #expect(closedAfter >= 1.5 && closedAfter <= 3.5, "closed after \(closedAfter) s")
        #expect(talkingSamples >= 20, "the talking dashboard kept getting samples: \(talkingSamples)")
    }

    @Test("against a dead ping port and a dead peer for 10 s, the monitor's open descriptors do not grow")
    func noLeakAgainstDeadPeers() throws {
        let (monitor, port) = try Self.startMonitor([
            "--peer", "dead=127.0.0.1:2", "--peer", "gone=unix:/nonexistent/monitor.sock", "--interval", "0.05",
        ])
        defer { _ = try? monitor.stop(grace: 5) }
        let client = LoopbackHTTPClient(port: port, timeout: 1)
        usleep(500_000)
        let before = Self.openDescriptors(monitor.pid)
        // 20 samples a second, each probing the dead ping port and both dead peers.
        usleep(10_000_000)
        #expect(client.status(of: "/sample") == 200)
        let after = Self.openDescriptors(monitor.pid)
        #expect(before > 0 && after <= before + 2, "\(before) descriptors, then \(after) after 10 s")
    }

    @Test(
        "the monitor's unix socket is its user's alone by default, 0660 in the group it is given, and open to others only in a directory closed to them"
    )
    func socketPermissions() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-monitor")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A group this process is in (root's own), as the unit gives the monitor nginx's.
        let group = try #require(getgrgid(getegid())).pointee
        let groupName = String(cString: group.gr_name)
        for (extra, mode, gid) in [
            ([String](), mode_t(0o600), getegid()),
            (["--socket-mode", "660", "--socket-group", groupName], mode_t(0o660), group.gr_gid),
        ] {
            let path = directory + "/m-\(mode).sock"
            let monitor = try ChildProcess.spawn(
                executable: try TestBinary.path,
                arguments: [
                    "monitor", "--listen", "unix:\(path)", "--ping-port", "1", "--segment",
                    "/nonexistent/fl-test-none.\(getpid())",
                ] + extra,
                standardOutput: "/dev/null")
            defer { _ = try? monitor.stop(grace: 5) }
            let client = LoopbackHTTPClient(endpoint: .unix(path: path), timeout: 1)
            let ready = MonotonicClock.now + 30
            var status = stat()
            while client.status(of: "/sample") == nil {
                try #require(MonotonicClock.now < ready, "the monitor did not answer")
                usleep(50_000)
            }
            usleep(100_000)
            #expect(stat(path, &status) == 0)
            #expect(status.st_mode & 0o777 == mode, "\(String(status.st_mode & 0o777, radix: 8))")
            #expect(status.st_gid == gid)
        }
        // Bits for others only where the directory keeps others out (as /run/fullyloaded-monitor,
        // 0750 in nginx's group, does): here it is 0700.
        let closed = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "monitor", "--listen", "unix:\(directory)/open.sock", "--ping-port", "1", "--socket-mode", "666",
                "--segment", "/nonexistent/fl-test-none.\(getpid())",
            ], standardOutput: "/dev/null")
        defer { _ = try? closed.stop(grace: 5) }
        let client = LoopbackHTTPClient(endpoint: .unix(path: directory + "/open.sock"), timeout: 1)
        let ready = MonotonicClock.now + 30
        while client.status(of: "/sample") == nil {
            try #require(MonotonicClock.now < ready, "the monitor did not answer")
            usleep(50_000)
        }
        usleep(100_000)
        #expect(Self.socketMode(directory + "/open.sock") == 0o666)
        // In a directory others may enter, refused.
        chmod(directory, 0o755)
        let bad = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: ["monitor", "--listen", "unix:\(directory)/x.sock", "--socket-mode", "666"],
            standardOutput: directory + "/bad.log")
        #expect(try bad.wait(timeout: 10) == .exited(64))
        #expect(try String(contentsOfFile: directory + "/bad.log", encoding: .utf8).contains("nothing for others"))
    }

    static func socketMode(_ path: String) -> mode_t {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_mode & 0o777 : 0
    }
}
