import ArgumentParser
import CommandLineOptions

/// `fullyloaded flag-ranges`: the table of valid ranges that `Docs/operations.md` shows
/// (`Deploy/dev.sh flags` writes it there).
struct FlagRangesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flag-ranges", abstract: "Print the valid range of every bounded flag as a Markdown table.",
        shouldDisplay: false)

    func run() throws {
        print("| flag | commands | range |")
        print("| --- | --- | --- |")
        for range in FlagRange.all { print(range.markdownRow) }
    }
}
