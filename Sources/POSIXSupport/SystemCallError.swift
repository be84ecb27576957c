#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A failed system call: which call, and the `errno` it left.
public struct SystemCallError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The name of the failed call, e.g. `"bind"`.
    public let call: String
    /// The `errno` value the call left behind.
    public let errno: Int32

    /// Creates an error for `call` with an explicit `errno` value.
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Runs a call that reports failure as `-1` + `errno`, retrying on `EINTR`, and throws a typed error
/// that names the call otherwise.
@discardableResult
@inline(__always)
public func systemCall<Result: FixedWidthInteger>(
    _ name: @autoclosure () -> String,
    _ body: () -> Result
) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemCallError(call: name(), errno: code)
    }
}

/// Runs a call that returns an error number directly (the pthread and posix_spawn style).
@inline(__always)
public func systemCallReturningError(
    _ name: @autoclosure () -> String,
    _ body: () -> Int32
) throws(SystemCallError) {
    let code = body()
    if code != 0 { throw SystemCallError(call: name(), errno: code) }
}
