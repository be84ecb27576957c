import ArgumentParser

/// A command line being rendered from typed options: `--name=value` words, which parse back
/// whatever the value starts with (a negative niceness, a peer named `host 1=…`).
struct ArgumentLine {
    private(set) var words: [String] = []

    mutating func option(_ name: String, _ value: (some CustomStringConvertible)?) {
        if let value { words.append("--\(name)=\(value)") }
    }

    mutating func options(_ name: String, _ values: [some CustomStringConvertible]) {
        for value in values { option(name, value) }
    }

    mutating func flag(_ name: String, _ isSet: Bool) {
        if isSet { words.append("--\(name)") }
    }

    mutating func append(_ more: [String]) { words += more }
}

extension ParsableArguments {
    /// Every option at its default: what parsing no arguments gives. Only types whose every
    /// option has a default call this (their tests parse `[]`).
    static func parsedDefaults() -> Self {
        do {
            return try parse([])
        } catch {
            preconditionFailure("\(Self.self) has an option without a default: \(error)")
        }
    }
}
