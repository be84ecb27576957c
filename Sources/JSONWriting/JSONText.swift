/// Writes small JSON documents without Foundation, for responses on the request path and log lines.
public enum JSONText {
    /// A scalar member value.
    public enum Value: Sendable {
        case string(String)
        case bool(Bool)
        case int(Int)
        case double(Double)
        case null
    }

    /// A JSON object with the members in the given order.
    public static func object(_ members: [(String, Value)]) -> [UInt8] {
        var text = "{"
        for (index, (key, value)) in members.enumerated() {
            if index > 0 { text += "," }
            append(string: key, to: &text)
            text += ":"
            switch value {
            case .string(let string): append(string: string, to: &text)
            case .bool(let bool): text += bool ? "true" : "false"
            case .int(let int): text += String(int)
            case .double(let double): text += double.isFinite ? String(double) : "null"
            case .null: text += "null"
            }
        }
        text += "}"
        return Array(text.utf8)
    }

    /// Appends `string` as a quoted JSON string.
    public static func append(string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}
