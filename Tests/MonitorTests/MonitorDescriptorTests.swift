import Foundation
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

    @Test("against a dead ping port and a dead peer for 10 s, the monitor's open descriptors do not grow")
    func noLeakAgainstDeadPeers() throws {
        let port = try LoopbackPort.ephemeral()
        let monitor = try ChildProcess.spawn(
            executable: try TestBinary.path,
            arguments: [
                "monitor", "--listen", "127.0.0.1:\(port)", "--ping-port", "1", "--peer", "dead=127.0.0.1:2",
                "--peer", "gone=unix:/nonexistent/monitor.sock", "--shm-name", "/fl-test-none.\(getpid())",
                "--interval", "0.05",
            ],
            standardOutput: "/dev/null")
        defer { _ = try? monitor.stop(grace: 5) }
        let client = LoopbackHTTPClient(port: port, timeout: 1)
        let ready = MonotonicClock.now + 30
        while client.status(of: "/sample") == nil {
            try #require(MonotonicClock.now < ready, "the monitor did not answer")
            usleep(50_000)
        }
        usleep(500_000)
        let before = Self.openDescriptors(monitor.pid)
        // 20 samples a second, each probing the dead ping port and both dead peers.
        usleep(10_000_000)
        #expect(client.status(of: "/sample") == 200)
        let after = Self.openDescriptors(monitor.pid)
        #expect(before > 0 && after <= before + 2, "\(before) descriptors, then \(after) after 10 s")
    }
}
