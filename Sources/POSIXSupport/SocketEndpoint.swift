import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where a stream socket lives: a TCP host and port (IPv4), or a unix socket path.
public enum SocketEndpoint: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }

    /// Calls `body` with this endpoint as a `sockaddr`.
    @discardableResult
    func withSocketAddress<Result>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemCallError) -> Result
    ) throws(SystemCallError) -> Result {
        switch self {
        case .tcp(let host, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
                throw SystemCallError(call: "inet_pton(\(host))", errno: EINVAL)
            }
            return try withUnsafePointer(to: &address) { (pointer) throws(SystemCallError) -> Result in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    (raw) throws(SystemCallError) -> Result in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            guard path.utf8.count < capacity else {
                throw SystemCallError(call: "sockaddr_un(\(path))", errno: ENAMETOOLONG)
            }
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
            }
            return try withUnsafePointer(to: &address) { (pointer) throws(SystemCallError) -> Result in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    (raw) throws(SystemCallError) -> Result in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        }
    }

    private var family: Int32 {
        switch self {
        case .tcp: AF_INET
        case .unix: AF_UNIX
        }
    }

    /// Opens a connected, blocking stream socket with send and receive timeouts of `timeout` seconds.
    public func connect(timeout: Double) throws(SystemCallError) -> FileDescriptor {
        let descriptor = try FileDescriptor(
            adopting: systemCall("socket") {
                socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            })
        do {
            try descriptor.setTimeouts(seconds: timeout)
            try withSocketAddress { (address, length) throws(SystemCallError) in
                try systemCall("connect(\(self))") { Glibc.connect(descriptor.rawValue, address, length) }
            }
        } catch {
            // The caller never sees this descriptor: it is closed here, on the error path too.
            descriptor.close()
            throw error
        }
        return descriptor
    }

    /// Opens a listening socket on this endpoint. A unix socket path is replaced if it exists.
    public func listen(backlog: Int32, unixPermissions: mode_t = 0o666) throws(SystemCallError) -> FileDescriptor {
        let descriptor = try FileDescriptor(
            adopting: systemCall("socket") {
                socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            })
        do {
            switch self {
            case .tcp:
                var one: Int32 = 1
                try systemCall("setsockopt(SO_REUSEADDR)") {
                    setsockopt(
                        descriptor.rawValue, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                }
            case .unix(let path):
                unlink(path)
            }
            try withSocketAddress { (address, length) throws(SystemCallError) in
                try systemCall("bind(\(self))") { bind(descriptor.rawValue, address, length) }
            }
            if case .unix(let path) = self {
                // nginx's worker processes may run as another user; they must be able to connect.
                try systemCall("chmod(\(path))") { chmod(path, unixPermissions) }
            }
            try systemCall("listen(\(self))") { Glibc.listen(descriptor.rawValue, backlog) }
        } catch {
            descriptor.close()
            throw error
        }
        return descriptor
    }

    /// Parses `unix:/path`, `/path`, `host:port` or `:port` (loopback).
    public init?(parsing text: String) {
        if text.hasPrefix("unix:") {
            self = .unix(path: String(text.dropFirst(5)))
        } else if text.hasPrefix("/") {
            self = .unix(path: text)
        } else if let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) {
            let host = String(text[..<colon])
            self = .tcp(host: host.isEmpty ? "127.0.0.1" : host, port: port)
        } else {
            return nil
        }
    }
}
