import ArgumentParser
import ServiceDefaults

/// The options of `fullyloaded monitor` but `--listen`: what `up` gives each host's monitor.
///
/// A value that renders its ``arguments`` and parses them back with the same definitions.
public struct MonitorOptions: ParsableArguments, Sendable {
    /// The definitions; read values only from a parsed instance (``defaults`` or `parse(_:)`).
    public init() {}

    @Option(
        help:
            "The shared segment of this host's workers: a file in a directory only this user or root may write, on tmpfs."
    )
    public var segment = WorkerOptions.defaultSegment

    @Option(help: "nginx's plain-HTTP port on 127.0.0.1, for the ping probe.")
    public var pingPort: UInt16 = 8080

    @Option(help: "The cost the predicted wait is shown for.")
    public var cost = HashDefaults.cost

    @Option(help: "Seconds between samples (\(FlagRange.interval.text)).")
    public var interval = MonitorDefaults.sampleInterval

    @Option(help: "The architecture the stack runs, shown on the dashboard.")
    public var architecture = "fine"

    @Option(help: "This host's name in the host list.")
    public var hostName = "localhost"

    @Option(help: "Another host's monitor to list on the dashboard: NAME=unix:/path or NAME=host:port (repeatable).")
    public var peer: [String] = []

    @Option(
        help:
            "Mode of the unix socket, in octal (600: the monitor's user only, as nginx is under `up`; 660 with --socket-group for nginx's group)."
    )
    public var socketMode = "600"

    @Option(help: "Group of the unix socket (e.g. www-data, nginx's), which the monitor must be a member of.")
    public var socketGroup: String?

    @Option(
        help:
            "Seconds a dashboard may send nothing before /ws closes it (the page says it is there every 30 s; \(FlagRange.webSocketIdle.text))."
    )
    public var wsIdleSeconds = MonitorDefaults.webSocketIdleSeconds

    // Set by `fullyloaded up` for its children; not for operators, so not in --help.
    @Flag(help: ArgumentHelp("Exit when the parent process exits.", visibility: .hidden))
    public var exitWithParent = false

    /// Every option at its default.
    public static var defaults: MonitorOptions { parsedDefaults() }

    /// The command line that parses back to this value: every option, flags only when set.
    public var arguments: [String] {
        var line = ArgumentLine()
        line.option("segment", segment)
        line.option("ping-port", pingPort)
        line.option("cost", cost)
        line.option("interval", interval)
        line.option("architecture", architecture)
        line.option("host-name", hostName)
        line.options("peer", peer)
        line.option("socket-mode", socketMode)
        line.option("socket-group", socketGroup)
        line.option("ws-idle-seconds", wsIdleSeconds)
        line.flag("exit-with-parent", exitWithParent)
        return line.words
    }
}
