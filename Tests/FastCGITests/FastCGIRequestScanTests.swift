import FastCGI
import StackTestSupport
import Testing

/// The scan that decides when a request thread may be given a connection.
@Suite("FastCGIRequestScan")
struct FastCGIRequestScanTests {
    func scan(_ bytes: [UInt8]) -> FastCGIRequestScan.Outcome {
        bytes.withUnsafeBytes { FastCGIRequestScan.scan($0) }
    }

    static let request = FastCGIRecords.request(
        id: 7, keepConnection: true,
        parameters: [("REQUEST_METHOD", "POST"), ("LONG", String(repeating: "v", count: 300))],
        body: Array(#"{"password":"x"}"#.utf8))

    @Test("a whole request is complete at its last byte, and every shorter prefix is incomplete")
    func prefixes() {
        let request = Self.request
        #expect(scan(request) == .complete(length: request.count))
        for length in 0..<request.count {
            #expect(scan(Array(request[..<length])) == .incomplete, "prefix of \(length) bytes")
        }
    }

    @Test("the next request's bytes after a whole one do not change where it ends")
    func followedByMore() {
        let request = Self.request
        #expect(scan(request + request.prefix(20)) == .complete(length: request.count))
    }

    @Test("padding is counted in a record's length")
    func padding() {
        var begin = FastCGIRecords.record(type: FastCGIRecords.beginRequest, id: 1, content: [0, 1, 0, 0, 0, 0, 0, 0])
        begin[6] = 3
        begin += [0, 0, 0]
        let rest = Array(FastCGIRecords.request(id: 1, keepConnection: false, parameters: [])[16...])
        #expect(scan(begin + rest) == .complete(length: begin.count + rest.count))
    }

    static let begin: [UInt8] = FastCGIRecords.record(
        type: FastCGIRecords.beginRequest, id: 1, content: [0, 1, 0, 0, 0, 0, 0, 0])

    /// What nginx never sends, each with its name.
    static func invalidCases() -> [(String, [UInt8])] {
        var cases: [(String, [UInt8])] = []
        cases.append(("management record", FastCGIRecords.record(type: FastCGIRecords.getValues, id: 0)))
        cases.append(
            ("authorizer role", FastCGIRecords.request(role: 2, keepConnection: false, parameters: [("A", "B")])))
        let stdinEarly: [UInt8] = FastCGIRecords.record(type: FastCGIRecords.stdin, id: 1, content: [1])
        cases.append(("stdin before params end", begin + stdinEarly))
        let otherID: [UInt8] = FastCGIRecords.record(
            type: FastCGIRecords.params, id: 2, content: FastCGIRecords.pair("A", "B"))
        cases.append(("another request id", begin + otherID))
        let cutShort: [UInt8] = FastCGIRecords.record(type: FastCGIRecords.params, id: 1, content: [5, 5, 65])
        let paramsEnd: [UInt8] = FastCGIRecords.record(type: FastCGIRecords.params, id: 1)
        cases.append(("parameters cut short", begin + cutShort + paramsEnd))
        cases.append(("version 2", [2] + Array(request.dropFirst())))
        return cases
    }

    @Test("what nginx never sends is invalid")
    func invalid() {
        for (name, bytes) in Self.invalidCases() {
            guard case .invalid = scan(bytes) else {
                Issue.record("\(name): \(scan(bytes))")
                continue
            }
        }
    }

    @Test("a beginning that fills the largest request without ending is invalid, not incomplete")
    func tooLarge() {
        var bytes = FastCGIRecords.record(type: FastCGIRecords.beginRequest, id: 1, content: [0, 1, 0, 0, 0, 0, 0, 0])
        bytes += FastCGIRecords.record(type: FastCGIRecords.params, id: 1)
        while bytes.count < FastCGIRequestScan.maximumRequestBytes {
            bytes += FastCGIRecords.record(
                type: FastCGIRecords.stdin, id: 1, content: [UInt8](repeating: 1, count: 8000))
        }
        guard case .invalid = scan(Array(bytes.prefix(FastCGIRequestScan.maximumRequestBytes))) else {
            Issue.record("not invalid")
            return
        }
    }
}
