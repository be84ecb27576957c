import ArgumentParser
import JSONLogging

/// The `fullyloaded` command: every process of the service is a subcommand of one binary.
@main
struct FullyLoaded: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fullyloaded",
        abstract: "A password-hashing service that runs every core fully loaded and still answers at once.",
        subcommands: [
            UpCommand.self, WorkerCommand.self, MonitorCommand.self, CalibrateCommand.self, NginxUpstreamsCommand.self,
            AdmissionBenchCommand.self, FlagRangesCommand.self, DefaultsCommand.self,
        ]
    )

    /// Every log line of every process is one JSON object, before any command runs.
    static func main() {
        JSONLogHandler.bootstrap()
        main(nil)
    }
}
