import JSONWriting
import Testing

@Suite("JSONText")
struct JSONTextTests {
    @Test("JSON text escapes quotes, backslashes and control characters")
    func jsonEscaping() {
        let text = String(
            decoding: JSONText.object([("a\"b", .string("x\\y\n\u{1}")), ("n", .int(-3)), ("t", .bool(true))]),
            as: UTF8.self)
        #expect(text == #"{"a\"b":"x\\y\n\u0001","n":-3,"t":true}"#)
    }
}
