/// The values a parsed options type holds, flattened through its option groups
/// (`costs.cost` → `"12"`): what a round trip must keep, whatever options are added later.
enum OptionValues {
    static func of(_ options: Any, prefix: String = "") -> [String: String] {
        var values: [String: String] = [:]
        for child in Mirror(reflecting: options).children {
            // The property wrappers' storage: `_threads` holds `threads`.
            guard let label = child.label, label.hasPrefix("_") else { continue }
            let name = prefix + label.dropFirst()
            if String(describing: type(of: child.value)).hasPrefix("OptionGroup<") {
                // An option group stores its parsed value in an enum case's payload.
                guard
                    let parsed = Mirror(reflecting: child.value).children.first(where: { $0.label == "_parsedValue" }),
                    let group = Mirror(reflecting: parsed.value).children.first, group.label == "value"
                else {
                    values[name] = "an option group that was not parsed"
                    continue
                }
                values.merge(of(group.value, prefix: name + "."), uniquingKeysWith: { first, _ in first })
            } else {
                values[name] = String(describing: child.value)
            }
        }
        return values
    }
}
