import Foundation
import POSIXSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Hosts made of network namespaces for tests: each has its own network stack, reached from the
/// test's namespace over a veth link (10.213.N.1 here, 10.213.N.2 there). Removed on deinit.
public final class NamespaceHosts: @unchecked Sendable {
    /// What went wrong setting them up.
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// The namespaces' names, one per host.
    public let namespaces: [String]
    /// Each host's address, as seen from the test.
    public let addresses: [String]
    private let links: [String]

    /// Whether this machine lets tests make namespaces (root, and `ip` present).
    public static var available: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    /// Makes `count` namespaces with a link to each.
    public init(count: Int) throws {
        let tag = Int(getpid()) % 100_000
        namespaces = (1...count).map { "fl-\(tag)-h\($0)" }
        links = (1...count).map { "flv\(tag)h\($0)" }
        addresses = (1...count).map { "10.213.\($0).2" }
        for (index, namespace) in namespaces.enumerated() {
            let number = index + 1
            try Self.ip(["netns", "add", namespace])
            try Self.ip(["link", "add", links[index], "type", "veth", "peer", "name", "eth0", "netns", namespace])
            try Self.ip(["addr", "add", "10.213.\(number).1/24", "dev", links[index]])
            try Self.ip(["link", "set", links[index], "up"])
            try Self.ip(["-n", namespace, "addr", "add", "10.213.\(number).2/24", "dev", "eth0"])
            try Self.ip(["-n", namespace, "link", "set", "eth0", "up"])
            try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
        }
    }

    /// Starts `arguments` (a command and its arguments) inside host `index`'s namespace.
    public func spawn(inHost index: Int, _ arguments: [String], log: String) throws -> ChildProcess {
        // `ip netns exec` enters the namespace and execs the command: the pid is the command's.
        try ChildProcess.spawn(
            executable: "/usr/sbin/ip", arguments: ["netns", "exec", namespaces[index]] + arguments, standardOutput: log
        )
    }

    /// Cuts host `index` off: its link goes down, packets to it are lost (no refusal, silence).
    public func cut(_ index: Int) throws { try Self.ip(["link", "set", links[index], "down"]) }

    /// Puts host `index` back on the network.
    public func restore(_ index: Int) throws { try Self.ip(["link", "set", links[index], "up"]) }

    deinit {
        for namespace in namespaces { _ = try? Command.run("/usr/sbin/ip", ["netns", "del", namespace]) }
        for link in links { _ = try? Command.run("/usr/sbin/ip", ["link", "del", link]) }
    }

    private static func ip(_ arguments: [String]) throws {
        let outcome = try Command.run("/usr/sbin/ip", arguments)
        guard outcome.status == 0 else {
            throw SetupError(description: "ip \(arguments.joined(separator: " ")): \(outcome.output)")
        }
    }
}
