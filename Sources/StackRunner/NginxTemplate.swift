import Foundation

/// An nginx config with `{{NAME}}` placeholders, rendered by plain substitution.
public struct NginxTemplate: Sendable {
    /// The template text.
    public let text: String

    /// Loads a template file.
    public init(contentsOf path: String) throws(StackError) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw .missingFile(path) }
        self.text = text
    }

    /// Creates a template from text.
    public init(text: String) {
        self.text = text
    }

    /// Replaces every placeholder; a placeholder left without a value is an error, not a silent hole.
    public func render(_ values: [String: String]) throws(StackError) -> String {
        var output = text
        for (name, value) in values {
            output = output.replacingOccurrences(of: "{{\(name)}}", with: value)
        }
        if let start = output.range(of: "{{"),
            let end = output.range(of: "}}", range: start.upperBound..<output.endIndex)
        {
            throw .invalidConfiguration("nginx template has no value for \(output[start.lowerBound..<end.upperBound])")
        }
        return output
    }
}
