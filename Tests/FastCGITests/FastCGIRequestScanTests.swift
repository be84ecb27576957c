import FastCGI
import StackTestSupport
import Testing

@Suite("FastCGIRequestScan")
struct FastCGIRequestScanTests {
    func scan(_ bytes: [UInt8]) -> FastCGIRequestScan.Verdict {
        bytes.withUnsafeBytes { FastCGIRequestScan.scan($0) }
    }

    func isInvalid(_ bytes: [UInt8]) -> Bool {
        if case .invalid = scan(bytes) { return true }
        return false
    }

    let parameters = [
        ("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/api/hash"), ("LONG", String(repeating: "v", count: 300)),
    ]

    @Test("a whole request is complete, and every prefix of it is incomplete")
    func prefixes() {
        let request = FastCGIRecords.request(parameters, body: Array("{\"password\":\"x\"}".utf8), size: 7)
        #expect(scan(request) == .complete)
        for length in 0..<request.count {
            #expect(scan(Array(request[..<length])) == .incomplete, "prefix of \(length) bytes")
        }
    }

    @Test("parameters and bodies cut at any record size, padded or not, with one- and four-byte lengths")
    func recordSizes() {
        for size in [1, 2, 3, 8, 100, 65_535] {
            #expect(
                scan(FastCGIRecords.request(parameters, body: [UInt8](repeating: 7, count: 1000), size: size))
                    == .complete)
        }
        #expect(scan(FastCGIRecords.request([])) == .complete, "no parameters and no body")
    }

    @Test("bytes after the request's end are not taken: they would be lost to the next request")
    func trailingBytes() {
        #expect(isInvalid(FastCGIRecords.request(parameters) + [1]))
        #expect(isInvalid(FastCGIRecords.request(parameters) + FastCGIRecords.request(parameters)))
    }

    @Test("what libfcgi would refuse, or answer on its own, is invalid before it reaches libfcgi")
    func refusals() {
        let rest =
            FastCGIRecords.stream(type: FastCGIRecords.params, pairs: [])
            + FastCGIRecords.stream(type: FastCGIRecords.stdin, [])
        #expect(isInvalid(FastCGIRecords.begin(role: 2) + rest), "the authorizer role")
        #expect(isInvalid(FastCGIRecords.begin(role: 3) + rest), "the filter role")
        #expect(isInvalid(FastCGIRecords.record(type: FastCGIRecords.getValues, id: 0)), "a management record")
        #expect(isInvalid(FastCGIRecords.begin(id: 0) + rest), "request id 0")
        #expect(isInvalid(FastCGIRecords.begin().map { $0 } + FastCGIRecords.record(type: FastCGIRecords.abortRequest)))
        #expect(isInvalid([2] + FastCGIRecords.request(parameters).dropFirst()), "version 2")
        #expect(
            isInvalid(FastCGIRecords.record(type: FastCGIRecords.params) + rest), "parameters before the begin record")
        #expect(isInvalid(FastCGIRecords.begin() + FastCGIRecords.begin(id: 2)), "a second begin record")
        #expect(isInvalid(FastCGIRecords.begin() + FastCGIRecords.stream(type: FastCGIRecords.params, id: 2, [])))
        #expect(
            isInvalid(FastCGIRecords.begin() + FastCGIRecords.stream(type: FastCGIRecords.stdin, [])),
            "a body before the parameters' end")
        #expect(isInvalid(FastCGIRecords.record(type: 11, content: [1, 2, 3])), "an unknown record type")
        #expect(
            isInvalid(
                FastCGIRecords.begin() + FastCGIRecords.record(type: FastCGIRecords.beginRequest, content: [0, 1])
                    + rest),
            "a second begin record of the wrong size")
    }

    @Test("parameters that end in the middle of a name-value pair are invalid")
    func cutPair() {
        let whole = FastCGIRecords.pairs([("NAME", "value")])
        let cut = Array(whole.dropLast())
        #expect(
            isInvalid(
                FastCGIRecords.begin() + FastCGIRecords.stream(type: FastCGIRecords.params, cut)
                    + FastCGIRecords.stream(type: FastCGIRecords.stdin, [])))
    }

    @Test("a begin record of the wrong length is invalid")
    func beginLength() {
        #expect(isInvalid(FastCGIRecords.record(type: FastCGIRecords.beginRequest, content: [0, 1, 0])))
    }
}

extension FastCGIRecords {
    fileprivate static func stream(type: UInt8, pairs: [(String, String)]) -> [UInt8] {
        stream(type: type, Self.pairs(pairs))
    }
}
