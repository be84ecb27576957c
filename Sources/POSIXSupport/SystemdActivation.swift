#if canImport(Glibc)
    import Glibc
#endif

/// The two systemd protocols a worker speaks without libsystemd: socket activation
/// (`LISTEN_FDS`/`LISTEN_PID`, sockets from descriptor 3 on) and readiness/watchdog
/// notification (datagrams to `NOTIFY_SOCKET`).
public enum SystemdActivation {
    /// The first descriptor systemd passes.
    public static let firstDescriptor: Int32 = 3

    /// The listening sockets systemd passed to this process, and clears the variables so that
    /// children do not take them for theirs; empty when none were passed to us.
    public static func takeListeningDescriptors() -> [Int32] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pid = environment("LISTEN_PID").flatMap({ Int32($0) }), pid == getpid(),
            let count = environment("LISTEN_FDS").flatMap({ Int32($0) }), count > 0
        else { return [] }
        return (0..<count).map { firstDescriptor + $0 }
    }

    /// Sends `state` (e.g. `READY=1`) to the service manager; `false` when not run under one.
    @discardableResult
    public static func notify(_ state: String) throws(SystemCallError) -> Bool {
        guard let path = environment("NOTIFY_SOCKET"), !path.isEmpty else { return false }
        let socket = try systemCall("socket(AF_UNIX, SOCK_DGRAM)") {
            Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { close(socket) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemCallError(call: "sd_notify(\(path))", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            for (index, byte) in bytes.enumerated() {
                // A leading "@" names a socket in the abstract namespace.
                sunPath[index] = (index == 0 && byte == UInt8(ascii: "@")) ? 0 : byte
            }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let message = Array(state.utf8)
        try systemCall("sendto(NOTIFY_SOCKET)") {
            withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    message.withUnsafeBytes {
                        sendto(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), raw, length)
                    }
                }
            }
        }
        return true
    }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when it is set for this process.
    public static var watchdogPingInterval: Double? {
        guard let microseconds = environment("WATCHDOG_USEC").flatMap({ Double($0) }), microseconds > 0 else {
            return nil
        }
        if let pid = environment("WATCHDOG_PID").flatMap({ Int32($0) }), pid != getpid() { return nil }
        return microseconds / 1_000_000 / 2
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
