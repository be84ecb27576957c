/// A JSON document as a value — objects (members in order), arrays, numbers, strings, booleans
/// and null — with one renderer and one rule for numbers: every JSON this service writes, the
/// API's answers, `/api/stats` and the log lines, is made here.
public indirect enum JSONValue: Sendable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    /// A count or an id: written exactly.
    case int(Int)
    /// A measurement: written to a millionth, or to ``significantDigits`` significant digits when
    /// that is finer (a timestamp keeps its microseconds, a per-KiB time its digits); not finite,
    /// as null.
    case double(Double)
    case bool(Bool)
    case null

    /// The significant digits a small ``double(_:)`` keeps; larger ones keep every digit down to
    /// a millionth. Both are far below what any figure here is measured to.
    public static let significantDigits = 6

    /// The document as UTF-8.
    public var bytes: [UInt8] { Array(text.utf8) }

    /// The document as text.
    public var text: String {
        var text = ""
        write(to: &text)
        return text
    }

    /// Appends the document to `text`.
    public func write(to text: inout String) {
        switch self {
        case .object(let members):
            text += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { text += "," }
                Self.append(string: key, to: &text)
                text += ":"
                value.write(to: &text)
            }
            text += "}"
        case .array(let elements):
            text += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { text += "," }
                element.write(to: &text)
            }
            text += "]"
        case .string(let string): Self.append(string: string, to: &text)
        case .int(let int): text += String(int)
        case .double(let double): text += Self.number(double)
        case .bool(let bool): text += bool ? "true" : "false"
        case .null: text += "null"
        }
    }

    /// `value` rounded to a millionth, or to ``significantDigits`` significant digits when that is
    /// finer, in Swift's shortest form (`0.231`, `1.20619e-06`, `1765012345.678901`); `null` when
    /// it is not finite.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        guard value != 0 else { return "0.0" }
        let exponent = Int((abs(value)).log10Floor)
        let scale = max(pow10(significantDigits - 1 - exponent), 1e6)
        let rounded = (value * scale).rounded() / scale
        return String(rounded.isFinite ? rounded : value)
    }

    /// Appends `string` as a quoted JSON string: quotes, backslashes and control characters escaped.
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

    /// 10^`exponent` (exact up to 10^22, where a double's digits end).
    private static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<min(abs(exponent), 400) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }
}

extension Double {
    /// ⌊log10(|self|)⌋ for a finite, non-zero value, without Foundation.
    fileprivate var log10Floor: Double {
        var exponent = 0.0
        var magnitude = abs(self)
        while magnitude >= 10 {
            magnitude /= 10
            exponent += 1
        }
        while magnitude < 1 {
            magnitude *= 10
            exponent -= 1
        }
        return exponent
    }
}

extension JSONValue: Equatable {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b || (a.isNaN && b.isNaN)
        case (.bool(let a), .bool(let b)): a == b
        case (.null, .null): true
        default: false
        }
    }
}
