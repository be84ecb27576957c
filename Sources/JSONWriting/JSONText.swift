/// Flat JSON objects, the shape of most answers and log lines: a shorthand for ``JSONValue``.
public enum JSONText {
    /// A member's value.
    public typealias Value = JSONValue

    /// A JSON object with the members in the given order, as UTF-8.
    public static func object(_ members: [(String, Value)]) -> [UInt8] {
        JSONValue.object(members).bytes
    }

    /// Appends `string` as a quoted JSON string.
    public static func append(string: String, to text: inout String) {
        JSONValue.append(string: string, to: &text)
    }
}
