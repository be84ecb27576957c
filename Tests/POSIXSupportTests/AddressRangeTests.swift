import POSIXSupport
import Testing

@Suite("AddressRange")
struct AddressRangeTests {
    @Test("parses addresses and networks, IPv4 and IPv6, and refuses names and bad prefixes")
    func parsing() {
        #expect(AddressRange(parsing: "10.1.2.3")?.description == "10.1.2.3")
        #expect(AddressRange(parsing: "10.1.2.3/24")?.description == "10.1.2.0/24")
        #expect(AddressRange(parsing: "fd00::5/64")?.description == "fd00::/64")
        #expect(AddressRange(parsing: "::1")?.prefixLength == 128)
        for bad in ["localhost", "10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/", "", "1.2.3.4/8/8"] {
            #expect(AddressRange(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("holds exactly the addresses under its prefix; a v4-mapped IPv6 address counts as IPv4")
    func containment() {
        let network = AddressRange(parsing: "192.168.4.0/22")!
        #expect(network.contains(AddressRange.addressBytes("192.168.7.255")!))
        #expect(!network.contains(AddressRange.addressBytes("192.168.8.0")!))
        #expect(network.contains(AddressRange.addressBytes("::ffff:192.168.5.1")!))
        #expect(!network.contains(AddressRange.addressBytes("fd00::1")!))
        let six = AddressRange(parsing: "2001:db8:0:1::/64")!
        #expect(six.contains(AddressRange.addressBytes("2001:db8:0:1:ffff::1")!))
        #expect(!six.contains(AddressRange.addressBytes("2001:db8:0:2::1")!))
        #expect(AddressRange.loopback.containsAddress(AddressRange.addressBytes("127.9.9.9")!))
        #expect(!AddressRange.loopback.containsAddress(AddressRange.addressBytes("10.0.0.1")!))
        #expect(AddressRange(parsing: "0.0.0.0/0")!.contains(AddressRange.addressBytes("203.0.113.7")!))
    }
}
