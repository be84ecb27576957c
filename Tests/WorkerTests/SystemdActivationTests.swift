// Longer than most files: systemd's protocols need a notify socket and systemd-socket-activate, set up once and shared.
import Foundation
import POSIXSupport
import StackTestSupport
import Testing

@testable import Admission

#if canImport(Glibc)
    import Glibc
#endif

/// Socket activation and readiness as systemd does them, with systemd's own `systemd-socket-activate`
/// and a datagram socket standing in for the service manager's NOTIFY_SOCKET.
@Suite("systemd protocols", .serialized)
struct SystemdActivationTests {
    /// A datagram socket at `path`, as the service manager listens on NOTIFY_SOCKET.
    final class NotifyListener {
        let descriptor: Int32
        init(path: String) throws {
            descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            try #require(bound == 0)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(descriptor) }

        /// The next datagram, or nil after 10 s.
        func next() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
        }
    }

    @Test("a worker started by systemd-socket-activate serves on the socket it was handed")
    func socketActivation() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-sd")
        let socket = directory + "/activated.sock"
        let activator = try ChildProcess.spawn(
            executable: "/usr/bin/systemd-socket-activate",
            arguments: [
                "-l", socket, try TestBinary.path, "worker", "--listen", "systemd", "--threads", "2", "--no-admission",
            ],
            standardOutput: directory + "/activate.log")
        defer { _ = try? activator.stop(signal: SIGTERM, grace: 10) }
        var waited = 0
        while !FileManager.default.fileExists(atPath: socket), waited < 200 {
            usleep(20_000)
            waited += 1
        }
        // The first connection makes systemd-socket-activate start the worker, which takes the socket.
        let response = try FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/ping")
        #expect(response.contains(#""ok":true"#), "\(response)")
        // The worker logs "ready" just after its threads start serving: give the line a moment.
        var log = ""
        for _ in 0..<100 {
            log = try String(contentsOfFile: directory + "/activate.log", encoding: .utf8)
            if log.contains(#""event":"ready""#) { break }
            usleep(20_000)
        }
        #expect(log.contains(#""listen":"inheritedDescriptor(3)""#), "\(log)")
    }

    @Test("without LISTEN_FDS, --listen systemd is a clear error")
    func noSocketPassed() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-sd")
        let worker = try ChildProcess.spawn(
            executable: try TestBinary.path, arguments: ["worker", "--listen", "systemd"],
            standardOutput: directory + "/worker.log")
        #expect(try worker.wait(timeout: 10) == .exited(64))
        #expect(try String(contentsOfFile: directory + "/worker.log", encoding: .utf8).contains("no socket passed"))
    }

    @Test("a TCP socket handed over on a non-loopback address without --allow-peer is a clear error, as --listen is")
    func inheritedTCPNeedsAllowedPeers() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-sd")
        let port = try LoopbackPort.ephemeral()
        let activator = try ChildProcess.spawn(
            executable: "/usr/bin/systemd-socket-activate",
            arguments: [
                "-l", "0.0.0.0:\(port)", try TestBinary.path, "worker", "--listen", "systemd", "--no-admission",
            ],
            standardOutput: directory + "/activate.log")
        defer { _ = try? activator.stop(signal: SIGTERM, grace: 5) }
        // The first connection starts the worker in the activator's place.
        var connected: FileDescriptor?
        for _ in 0..<200 where connected == nil {
            connected = try? SocketEndpoint.tcp(host: "127.0.0.1", port: port).connect(timeout: 1)
            if connected == nil { usleep(20_000) }
        }
        defer { connected?.close() }
        #expect(connected != nil)
        #expect(try activator.wait(timeout: 10) == .exited(64))
        let log = try String(contentsOfFile: directory + "/activate.log", encoding: .utf8)
        #expect(log.contains("is bound to 0.0.0.0") && log.contains("--allow-peer"), "\(log)")
    }

    @Test("sd_notify: READY=1 once serving, WATCHDOG=1 at half WatchdogSec, STOPPING=1 on SIGTERM")
    func notify() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-sd")
        let listener = try NotifyListener(path: directory + "/notify")
        let socket = directory + "/w.sock"
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = directory + "/notify"
        environment["WATCHDOG_USEC"] = "400000"  // beats every 0.2 s
        let worker = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: ["worker", "--listen", "unix:\(socket)", "--threads", "2", "--no-admission"],
            environment: environment, standardOutput: directory + "/worker.log")
        let ready = listener.next()
        #expect(
            ready?.contains("READY=1") == true && ready?.contains("MAINPID=\(worker.pid)") == true,
            "\(ready ?? "nothing")")
        // Ready means serving: a request right after READY is answered.
        #expect(try FastCGITestClient.request(socket: socket, method: "GET", uri: "/api/ping").contains(#""ok":true"#))
        var beats = 0
        let started = MonotonicClock.now
        while MonotonicClock.now - started < 1, let message = listener.next() {
            if message == "WATCHDOG=1" { beats += 1 }
        }
        #expect(beats >= 3, "\(beats) watchdog beats in a second")
        worker.send(SIGTERM)
        var stopping = false
        while let message = listener.next() {
            if message.contains("STOPPING=1") {
                stopping = true
                break
            }
        }
        #expect(stopping)
        #expect(try worker.wait(timeout: 10) == .exited(0))
    }

    @Test("the watchdog is fed only while the heartbeat gets the segment's lock: a worker stuck on it stops beating")
    func watchdogNeedsProgress() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-sd")
        let listener = try NotifyListener(path: directory + "/notify")
        let name = directory + "/segment"
        defer { SharedSegment.unlink(path: name) }
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = directory + "/notify"
        environment["WATCHDOG_USEC"] = "400000"  // beats every 0.2 s while the heartbeat gets round
        let worker = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "worker", "--listen", "unix:\(directory)/w.sock", "--threads", "2", "--segment", name, "--cost", "4",
                "--estimate-seconds", "0.001",
            ],
            environment: environment, standardOutput: directory + "/worker.log")
        defer { _ = try? worker.stop(grace: 10) }
        #expect(listener.next()?.contains("READY=1") == true)
        // The worker's segment, held by this process as a worker stuck on its lock would hold it.
        let segment = try SharedSegment(
            path: name, slots: 2, deadline: 2, initialEstimate: ServiceTimeEstimate(unitSeconds: 1e-5))
        let holder = Thread { segment.withLockedView { _ in _ = usleep(3_000_000) } }
        let heldAt = MonotonicClock.now
        holder.start()
        var beats: [Double] = []
        while MonotonicClock.now - heldAt < 4, let message = listener.next() {
            if message == "WATCHDOG=1" { beats.append(MonotonicClock.now - heldAt) }
        }
        #expect(!beats.contains { $0 > 1.6 && $0 < 2.9 }, "beats while the heartbeat was stuck: \(beats)")
        #expect(beats.contains { $0 > 3 }, "no beat once the lock was free again: \(beats)")
    }

    @Test("the shipped units pass systemd-analyze verify without a single warning")
    func unitsVerify() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let units = root.appendingPathComponent("Deploy/systemd")
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-units")
        // verify checks that ExecStart exists: point it at the binary under test. Instances of the
        // templates are what systemd loads.
        let names = [
            ("fullyloaded-worker@.socket", "fullyloaded-worker@0.socket"),
            ("fullyloaded-worker@.service", "fullyloaded-worker@0.service"),
            ("fullyloaded-monitor.service", "fullyloaded-monitor.service"),
            ("fullyloaded.target", "fullyloaded.target"),
        ]
        for (source, target) in names {
            let text = try String(contentsOf: units.appendingPathComponent(source), encoding: .utf8)
                .replacingOccurrences(of: "/usr/bin/fullyloaded", with: try TestBinary.path)
            try text.write(toFile: directory + "/" + target, atomically: true, encoding: .utf8)
        }
        let verified = try Command.run("/usr/bin/systemd-analyze", ["verify"] + names.map { directory + "/" + $0.1 })
        #expect(verified.status == 0)
        #expect(verified.output.isEmpty, "systemd-analyze said: \(verified.output)")
    }

    @Test("systemd-analyze security rates the worker and monitor units 1.5 or better (exposure, 0–10)")
    func unitsExposure() throws {
        let units = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Deploy/systemd")
        for unit in ["fullyloaded-worker@.service", "fullyloaded-monitor.service"] {
            let rated = try Command.run(
                "/usr/bin/systemd-analyze",
                ["security", "--offline=true", "--no-pager", units.appendingPathComponent(unit).path])
            // "→ Overall exposure level for fullyloaded-worker@i.service: 1.3 OK"
            let line = rated.output.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
            let score = line.split(separator: " ").compactMap { Double($0) }.first
            #expect(score.map { $0 <= 1.5 } == true, "\(unit): \(line)")
        }
    }
}
