import POSIXSupport

/// Who counts as one client for the fair share: a group, and within it a leaf.
///
/// Keys are hierarchical, so that rotating addresses buys nothing: an IPv4 client is its /24,
/// then its address within it; an IPv6 client is its /48, then its /64 within it. An end user
/// named by a trusted application or proxy (nginx passes the name only from trusted addresses)
/// is a group of its own, with no leaves. Keys are never stored or shown as they are: the table
/// keeps a keyed hash of them, and the public sees a shortened hash.
public struct ClientKey: Sendable, Equatable, Hashable {
    /// What a key names.
    public enum Kind: UInt32, Sendable {
        case none = 0
        case ipv4Network = 1
        case ipv4Address = 2
        case ipv6Network = 3
        case ipv6Subnet = 4
        case named = 5
        /// No address and no name (a request that did not come through nginx).
        case unknown = 6
        /// The shared entry of newcomers that found no room.
        case overflow = 7

        /// How `/api/stats` and `/metrics` name the kind.
        public var label: String {
            switch self {
            case .none: "none"
            case .ipv4Network: "ipv4/24"
            case .ipv4Address: "ipv4"
            case .ipv6Network: "ipv6/48"
            case .ipv6Subnet: "ipv6/64"
            case .named: "named"
            case .unknown: "unknown"
            case .overflow: "overflow"
            }
        }
    }

    /// The longest end-user name kept; longer ones are cut (the hash of the first bytes names them).
    public static let maximumNameBytes = 256

    /// The group's kind and bytes (the kind is part of what is hashed).
    public let groupKind: Kind
    public let group: [UInt8]
    /// The leaf's, or `nil` when the group is the client.
    public let leafKind: Kind?
    public let leaf: [UInt8]?

    /// The key of a request: the end user a trusted proxy named (`namedClient`, non-empty), or
    /// else the client's address as nginx saw it (`remoteAddress`, numeric).
    public init(remoteAddress: String?, namedClient: String? = nil) {
        if let namedClient, !namedClient.isEmpty {
            self.init(groupKind: .named, group: Array(namedClient.utf8.prefix(Self.maximumNameBytes)))
            return
        }
        guard let remoteAddress, var bytes = AddressRange.addressBytes(remoteAddress) else {
            self.init(groupKind: .unknown, group: [])
            return
        }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        if bytes.count == 4 {
            self.init(groupKind: .ipv4Network, group: Array(bytes[0..<3]), leafKind: .ipv4Address, leaf: bytes)
        } else {
            self.init(
                groupKind: .ipv6Network, group: Array(bytes[0..<6]), leafKind: .ipv6Subnet, leaf: Array(bytes[0..<8]))
        }
    }

    /// A key made of raw parts (tests and the admission benchmark).
    public init(groupKind: Kind, group: [UInt8], leafKind: Kind? = nil, leaf: [UInt8]? = nil) {
        self.groupKind = groupKind
        self.group = group
        self.leafKind = leaf == nil ? nil : leafKind
        self.leaf = leaf
    }

    /// The key as the client table stores it.
    public struct Hashed: Sendable, Equatable {
        public var group: UInt64
        public var groupKind: Kind
        public var leaf: UInt64?
        public var leafKind: Kind
    }

    /// The keyed hashes of the group and the leaf, never 0 (unused) or ``overflowKey``.
    public func hashed(seed: UInt64) -> Hashed {
        let group = Self.hash(groupKind, group, seed: seed)
        return Hashed(
            group: group, groupKind: groupKind, leaf: leaf.map { Self.hash(leafKind ?? .none, $0, seed: seed) },
            leafKind: leafKind ?? .none)
    }

    /// The overflow group's key in the table.
    static let overflowKey: UInt64 = 1

    /// A keyed 64-bit hash (FNV-1a over the seed, the kind and the bytes, then SplitMix64's
    /// finaliser). The seed is random per segment, so a client cannot choose keys that crowd
    /// one probe window; it is no secret from the service's own user, who could read the table anyway.
    static func hash(_ kind: Kind, _ bytes: [UInt8], seed: UInt64) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
        for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: seed >> UInt64(shift))) }
        mix(UInt8(kind.rawValue))
        for byte in bytes { mix(byte) }
        value ^= value >> 30
        value = value &* 0xbf58_476d_1ce4_e5b9
        value ^= value >> 27
        value = value &* 0x94d0_49bb_1331_11eb
        value ^= value >> 31
        return value < 2 ? value &+ 2 : value
    }

    /// How the public sees a stored key: its kind and the first 32 bits of its hash.
    static func label(kind: Kind, key: UInt64) -> String {
        let hex = String(key >> 32, radix: 16)
        return "\(kind.label):\(String(repeating: "0", count: max(0, 8 - hex.count)))\(hex)"
    }
}
