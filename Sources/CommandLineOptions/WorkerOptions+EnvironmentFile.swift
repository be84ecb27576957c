import ArgumentParser
import Foundation

extension WorkerOptions {
    /// The variable of `/etc/default/fullyloaded` that the worker unit appends to its command line.
    public static let environmentVariable = "FULLYLOADED_WORKER_OPTIONS"

    /// The worker's options as its systemd unit runs it with `file`'s `FULLYLOADED_WORKER_OPTIONS`,
    /// parsed and validated by the worker's own parser, so that a renderer reading them cannot
    /// misread a spelling the worker accepts (`--deadline=3`, `--deadline 3`).
    public static func fromEnvironmentFile(_ path: String) throws -> WorkerOptions {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("--options-from \(path): cannot read it (\(error.localizedDescription))")
        }
        guard let words = optionWords(in: text) else {
            throw ValidationError("--options-from \(path): no \(environmentVariable)= line")
        }
        // The unit's fixed arguments come first, as in its ExecStart line (but `--listen`, the
        // command's own).
        let arguments = ["--segment", defaultSegment] + words
        do {
            return try WorkerOptions.parse(arguments)
        } catch {
            throw ValidationError(
                "--options-from \(path): \(environmentVariable) is not valid: \(WorkerOptions.message(for: error))")
        }
    }

    /// The words of the last `FULLYLOADED_WORKER_OPTIONS=` assignment, split as systemd splits an
    /// unbraced `$VARIABLE` in ExecStart: one pair of surrounding quotes removed, then whitespace.
    public static func optionWords(in text: String) -> [String]? {
        let prefix = environmentVariable + "="
        guard
            var value = text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) })
                .last(where: { $0.hasPrefix(prefix) })?.dropFirst(prefix.count)
        else { return nil }
        if let quote = value.first, quote == "\"" || quote == "'", value.count >= 2, value.last == quote {
            value = value.dropFirst().dropLast()
        }
        return value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }
}
