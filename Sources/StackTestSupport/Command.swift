import Foundation

/// Runs a command-line tool (curl, openssl, nginx, ab) to completion, for tests.
public enum Command {
    /// What a command left: its exit status and its output, stdout and stderr together.
    public struct Outcome: Sendable {
        public let status: Int32
        public let output: String
    }

    /// Runs `executable` with `arguments`, feeding `input` on stdin, and waits for it to end.
    public static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}
