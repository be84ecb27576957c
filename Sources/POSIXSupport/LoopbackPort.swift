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

    /// A listening socket on a port the kernel picks, never one of `reserved`.
    ///
    /// Ports chosen earlier for another program (nginx's, say) are free until it binds them, and
    /// the kernel may hand one out again meanwhile: a socket that lands on one is held while the
    /// next is bound, so the kernel cannot offer the same port twice, then closed.
    public static func listener(
        avoiding reserved: Set<UInt16>, backlog: Int32
    ) throws(SystemCallError) -> FileDescriptor {
        var held: [FileDescriptor] = []
        defer { for socket in held { socket.close() } }
        while true {
            let socket = try SocketEndpoint.tcp(host: "127.0.0.1", port: 0).listen(backlog: backlog)
            let port: UInt16
            do { port = try socket.boundPort() } catch {
                socket.close()
                throw error
            }
            guard reserved.contains(port) else { return socket }
            held.append(socket)
        }
    }
}
