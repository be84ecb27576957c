import Foundation
import POSIXSupport
import Testing

@Suite("Loopback ports")
struct LoopbackPortTests {
    /// The range the kernel picks ports from, as it says.
    private func localPortRange() throws -> ClosedRange<UInt16> {
        let text = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { UInt16($0) }
        try #require(bounds.count == 2 && bounds[0] < bounds[1])
        return bounds[0]...bounds[1]
    }

    @Test("a listener on a kernel-picked port never lands on a reserved one, and holds nothing else open")
    func listenerAvoidsReservedPorts() throws {
        // Every other odd port reserved. The kernel hands odd ports to bind(0) first (even ones go
        // to connect), so a plain bind lands on a reserved one about half the time, and at least
        // a quarter of the time whatever its parity rule: fifty in a row would not all miss by
        // chance.
        let reserved = Set(try localPortRange().filter { $0 % 4 == 1 })
        let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        for _ in 0..<50 {
            let listener = try LoopbackPort.listener(avoiding: reserved, backlog: 1)
            let port = try listener.boundPort()
            listener.close()
            #expect(!reserved.contains(port), "landed on reserved port \(port)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count == before)
    }
}
