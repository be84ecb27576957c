import ArgumentParser

/// The `fullyloaded` command: every process of the service is a subcommand of one binary.
@main
struct FullyLoaded: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fullyloaded",
        abstract: "A password-hashing service that runs every core fully loaded and still answers at once.",
        subcommands: [UpCommand.self, WorkerCommand.self, CalibrateCommand.self]
    )
}

/// Options shared by every command that serves the password API.
struct CostOptions: ParsableArguments {
    @Option(help: "bcrypt cost of /api/load and the default of /api/hash.")
    var cost = 12

    @Option(help: "Lowest cost a request may ask for.")
    var minCost = 4

    @Option(help: "Highest cost a request may ask for, or a verified hash may carry.")
    var maxCost = 14
}
