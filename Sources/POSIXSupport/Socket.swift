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

/// An owned file descriptor: one owner, one ``close()``.
///
/// A reference, so that whoever holds it shares the one owner; it is closed exactly once, by
/// ``close()`` (later calls do nothing). One that is dropped still open was leaked: a debug build
/// stops there (as swift-nio's sockets do), a release build closes it. Whoever hands the number
/// to someone who closes it (libfcgi, an exec'd child) says so with ``releaseOwnership()``.
public final class FileDescriptor: Sendable {
    /// The raw descriptor number.
    public let rawValue: Int32
    private let isOpen = Atomic<Bool>(true)

    /// Takes ownership of a descriptor number.
    public init(adopting rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        guard isOpen.load(ordering: .acquiring) else { return }
        assertionFailure("file descriptor \(rawValue) leaked: dropped without close()")
        _ = Glibc.close(rawValue)
    }

    /// Closes the descriptor; only the first call does.
    public func close() {
        guard isOpen.exchange(false, ordering: .acquiringAndReleasing) else { return }
        _ = Glibc.close(rawValue)
    }

    /// Gives the descriptor to another owner and returns its number: this object no longer
    /// closes it.
    public func releaseOwnership() -> Int32 {
        isOpen.store(false, ordering: .releasing)
        return rawValue
    }

    /// Sets SO_SNDTIMEO and SO_RCVTIMEO.
    public func setTimeouts(seconds: Double) throws(SystemCallError) {
        var time = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        for option in [SO_SNDTIMEO, SO_RCVTIMEO] {
            try systemCall("setsockopt(SO_*TIMEO)") {
                setsockopt(rawValue, SOL_SOCKET, option, &time, socklen_t(MemoryLayout<timeval>.size))
            }
        }
    }

    /// Writes all of `bytes`.
    public func writeAll(_ bytes: [UInt8]) throws(SystemCallError) {
        var offset = 0
        while offset < bytes.count {
            let written = try systemCall("send") {
                bytes.withUnsafeBytes { buffer in
                    Glibc.send(rawValue, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                }
            }
            offset += written
        }
    }

    /// Reads up to `maximum` bytes; an empty result means end of stream.
    public func read(maximum: Int) throws(SystemCallError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maximum)
        let count = try systemCall("read") {
            buffer.withUnsafeMutableBytes { raw in Glibc.read(rawValue, raw.baseAddress, maximum) }
        }
        buffer.removeSubrange(count...)
        return buffer
    }

    /// Shuts down both directions, waking any thread blocked in accept on it.
    public func shutdown() {
        _ = Glibc.shutdown(rawValue, Int32(SHUT_RDWR))
    }

    /// The local TCP port this socket is bound to.
    public func boundPort() throws(SystemCallError) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try systemCall("getsockname") {
            withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(rawValue, $0, &length) }
            }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}

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
