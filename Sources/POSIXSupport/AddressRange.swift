#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 address with a prefix length (`10.0.0.0/24`, `fd00::/64`, or one address).
///
/// What a TCP worker accepts connections from: the front's addresses, nothing else.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The network's bytes (4 or 16), host bits cleared.
    public let network: [UInt8]
    /// How many leading bits must match.
    public let prefixLength: Int

    /// Loopback, IPv4 and IPv6: the default peers of a worker listening on a loopback address.
    public static let loopback: [AddressRange] = [
        AddressRange(parsing: "127.0.0.0/8")!, AddressRange(parsing: "::1")!,
    ]

    /// Parses `address` or `address/prefix`; `nil` for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.addressBytes(String(parts[0])) else { return nil }
        let bits = bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...bits).contains(given), parts[1].allSatisfy(\.isASCII) else {
                return nil
            }
            length = given
        }
        network = Self.masked(bytes, to: length)
        prefixLength = length
    }

    /// The range holding exactly `address` (4 or 16 bytes).
    public init(address: [UInt8]) {
        network = address
        prefixLength = address.count * 8
    }

    /// Whether `address` (4 or 16 bytes) is inside this range; an IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) counts as its IPv4 address.
    public func contains(_ address: [UInt8]) -> Bool {
        var address = address
        if address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }), address[10] == 0xff, address[11] == 0xff {
            address = Array(address[12...])
        }
        guard address.count == network.count else { return false }
        return Self.masked(address, to: prefixLength) == network
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = network.count == 4 ? AF_INET : AF_INET6
        _ = network.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        let address = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return prefixLength == network.count * 8 ? address : "\(address)/\(prefixLength)"
    }

    /// The bytes of a numeric IPv4 or IPv6 address (no names: nothing to resolve, nothing to spoof).
    public static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// The address bytes of a connected socket's peer; `nil` for a unix socket or on error.
    public static func peerAddress(ofSocket descriptor: Int32) -> [UInt8]? {
        address(ofSocket: descriptor, peer: true)
    }

    /// The address bytes a socket is bound to; `nil` for a unix socket or on error.
    public static func localAddress(ofSocket descriptor: Int32) -> [UInt8]? {
        address(ofSocket: descriptor, peer: false)
    }

    private static func address(ofSocket descriptor: Int32, peer: Bool) -> [UInt8]? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(descriptor, $0, &length) : getsockname(descriptor, $0, &length)
            }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { raw in
                Array(raw.load(as: sockaddr_in.self).addressBytes)
            }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { raw in
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: &address) { Array($0) }
            }
        default:
            return nil
        }
    }

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = min(8, max(0, length - index * 8))
            return kept == 8 ? byte : byte & ~(UInt8(0xff) >> kept)
        }
    }
}

extension sockaddr_in {
    fileprivate var addressBytes: [UInt8] {
        var address = sin_addr
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}

extension Array where Element == AddressRange {
    /// Whether any range holds `address`.
    public func containsAddress(_ address: [UInt8]) -> Bool {
        contains { $0.contains(address) }
    }
}
