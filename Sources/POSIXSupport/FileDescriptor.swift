import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

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
