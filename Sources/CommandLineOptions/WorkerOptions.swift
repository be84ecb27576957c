import ArgumentParser
import PasswordService
import ServiceDefaults
import Worker

/// The options of `fullyloaded worker` but `--listen`: what `up` gives each of its workers and
/// what `/etc/default/fullyloaded` gives the socket-activated ones.
///
/// A value: `up` sets its fields and renders them with ``arguments``, and the worker parses
/// them back with the same definitions, so a flag renamed here changes both sides at once.
public struct WorkerOptions: ParsableArguments, Sendable {
    /// The definitions; read values only from a parsed instance (``defaults`` or `parse(_:)`).
    public init() {}

    @Option(
        help:
            "Request threads: one per request being served; connections still sending theirs, or idle between requests, hold none (\(FlagRange.requestThreads.text))."
    )
    public var threads = PoolDefaults.requestThreads

    @Option(
        help:
            "Request threads expensive requests may hold at once; the rest stay free for cheap ones (default: half of --threads)."
    )
    public var expensiveThreads: Int?

    @Option(
        help:
            "Mode of the unix socket the worker makes, in octal (600: its own user only; 660 for nginx in the socket's group)."
    )
    public var socketMode = "600"

    @Option(
        help:
            "On a TCP socket, an address or network (10.0.0.5, 10.0.0.0/24) whose connections are served; repeat for several. Others are closed unanswered (default: loopback only)."
    )
    public var allowPeer: [String] = []

    @Option(help: "Largest request body in bytes; larger ones get 413.")
    public var maxBody = PasswordServiceConfiguration.defaultMaximumBodyBytes

    @OptionGroup public var costs: CostOptions

    @OptionGroup public var admission: AdmissionOptions

    @Option(
        help:
            "The shared segment of this host's workers: a file in a directory only this user or root may write, on tmpfs."
    )
    public var segment = Self.defaultSegment

    @Flag(help: "Run bcrypt inline on the request thread, with no queue, no admission control and no shared segment.")
    public var noAdmission = false

    @Option(
        help:
            "Where bcrypt runs: admission (the full design), inline (on the request thread), background (a normal-priority pool, unbounded queue). The last two only count their jobs in the segment."
    )
    public var execution = WorkerConfiguration.Execution.admission

    @Option(help: "Exit (status 0, after finishing what it holds) once this many requests are served; 0: never.")
    public var maxRequests = 0

    @Option(help: "Add a random 0...N to --max-requests, so that workers started together do not recycle together.")
    public var maxRequestsJitter = 0

    // Set by `fullyloaded up` for its children; not for operators, so not in --help.
    @Flag(
        help: ArgumentHelp(
            "At --max-requests, ask the parent (SIGUSR1) to replace this worker instead of exiting.",
            visibility: .hidden))
    public var recycleByParent = false

    @Flag(help: ArgumentHelp("Exit when the parent process exits.", visibility: .hidden))
    public var exitWithParent = false

    /// Where a host's workers and monitor share their segment unless told otherwise.
    public static let defaultSegment = "/run/fullyloaded/segment/admission"

    /// Every option at its default.
    public static var defaults: WorkerOptions { parsedDefaults() }

    /// The command line that parses back to this value: every option, flags only when set.
    public var arguments: [String] {
        var line = ArgumentLine()
        line.option("threads", threads)
        line.option("expensive-threads", expensiveThreads)
        line.option("socket-mode", socketMode)
        line.options("allow-peer", allowPeer)
        line.option("max-body", maxBody)
        line.append(costs.arguments)
        line.append(admission.arguments)
        line.option("segment", segment)
        line.flag("no-admission", noAdmission)
        line.option("execution", execution.rawValue)
        line.option("max-requests", maxRequests)
        line.option("max-requests-jitter", maxRequestsJitter)
        line.flag("recycle-by-parent", recycleByParent)
        line.flag("exit-with-parent", exitWithParent)
        return line.words
    }
}

extension WorkerConfiguration.Execution: ExpressibleByArgument {}
