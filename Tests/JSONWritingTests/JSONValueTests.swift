import Foundation
import JSONWriting
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test("objects and arrays nest, members keep their order, and the text parses back to the same")
    func nesting() throws {
        let value = JSONValue.object([
            ("z", .int(1)),
            ("a", .array([.null, .bool(false), .object([("inner", .array([]))]), .object([])])),
            ("m", .string("x")),
        ])
        #expect(value.text == #"{"z":1,"a":[null,false,{"inner":[]},{}],"m":"x"}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(value.bytes)) as? [String: Any]
        #expect((parsed?["a"] as? [Any])?.count == 4)
    }

    @Test("strings escape quotes, backslashes and every control character, and keep the rest")
    func escaping() throws {
        let raw = "q\"b\\n\n\r\t\u{0}\u{1f}é😀/"
        let text = JSONValue.string(raw).text
        #expect(text == #""q\"b\\n\n\r\t\u0000\u001fé😀/""#)
        let back = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String
        #expect(back == raw)
    }

    @Test(
        "numbers: integers exact; doubles to a millionth, or six significant digits when finer, in the shortest form; not finite as null",
        arguments: [
            (JSONValue.int(-9_007_199_254_740_993), "-9007199254740993"),
            (.double(0.16412345678), "0.164123"),
            (.double(16.666666666), "16.666667"),
            (.double(1_765_012_345.678901234), "1765012345.678901"),
            (.double(1.2061850487043934e-06), "1.20619e-06"),
            (.double(2), "2.0"),
            (.double(0), "0.0"),
            (.double(-0.0000123456789), "-1.23457e-05"),
            (.double(123_456_789), "123456789.0"),
            (.double(.infinity), "null"),
            (.double(.nan), "null"),
            (.double(.leastNonzeroMagnitude), "5e-324"),
            (.double(.greatestFiniteMagnitude), "1.7976931348623157e+308"),
        ])
    func numbers(_ value: JSONValue, _ expected: String) throws {
        #expect(value.text == expected)
        if expected != "null" {
            _ = try JSONSerialization.jsonObject(with: Data("[\(expected)]".utf8))
        }
    }
}
