import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Ports on the loopback interface.
public enum LoopbackPort {
    /// Whether nothing listens on 127.0.0.1:`port` (we could bind it ourselves).
    public static func isFree(_ port: UInt16) -> Bool {
        guard let socket = try? SocketEndpoint.tcp(host: "127.0.0.1", port: port).listen(backlog: 1) else {
            return false
        }
        socket.close()
        return true
    }

    /// A port the kernel just handed out as free.
    public static func ephemeral() throws(SystemCallError) -> UInt16 {
        let socket = try SocketEndpoint.tcp(host: "127.0.0.1", port: 0).listen(backlog: 1)
        defer { socket.close() }
        return try socket.boundPort()
    }
}
