import Foundation

/// The keys of a JSON object's top level, as written: for refusing a body that names a field
/// twice (`{"password":"a","password":"b"}`), which decoders silently settle by taking one.
enum JSONObjectKeys {
    /// The first key the top-level object of `bytes` names twice (escapes decoded, so that
    /// `"pass\u0077ord"` is `password`), or `nil`. Bytes that are not a well-formed object give
    /// `nil` too: the decoder reports those.
    static func firstDuplicate(in bytes: [UInt8]) -> String? {
        var seen = Set<String>()
        var index = 0
        var depth = 0
        var expectingKey = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                depth += 1
                expectingKey = depth == 1
            case UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
            case UInt8(ascii: "\""):
                guard let end = closingQuote(bytes, from: index) else { return nil }
                if depth == 1 && expectingKey {
                    guard let key = try? JSONDecoder().decode(String.self, from: Data(bytes[index...end])) else {
                        return nil
                    }
                    if !seen.insert(key).inserted { return key }
                    expectingKey = false
                }
                index = end
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// The index of the quote that closes the string opening at `start`.
    private static func closingQuote(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == UInt8(ascii: "\"") { return index }
            index += 1
        }
        return nil
    }
}
