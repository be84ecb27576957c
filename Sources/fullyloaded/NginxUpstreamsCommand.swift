import Admission
import ArgumentParser
import CommandLineOptions
import Foundation
import POSIXSupport
import ServiceDefaults
import StackRunner

/// `fullyloaded nginx-upstreams`: the nginx upstreams, timeouts and retry rules for a host's
/// socket-activated workers, from the same code `fullyloaded up` renders its own with.
struct NginxUpstreamsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nginx-upstreams",
        abstract:
            "Print the nginx upstream blocks and FastCGI timeouts for a pool of workers (for the production site)."
    )

    @Option(help: "Worker processes (sockets worker-0.sock … in --socket-dir; \(FlagRange.workers.text)).")
    var workers: Int

    @Option(help: "Request threads per worker, as the workers run with (\(FlagRange.requestThreads.text)).")
    var threads = PoolDefaults.requestThreads

    @Option(help: "N, in seconds, as the workers run with (\(FlagRange.deadline.text)).")
    var deadline = PromiseDefaults.deadline

    @Option(
        help: ArgumentHelp(
            "Take --threads and --deadline from the worker options in this file (FULLYLOADED_WORKER_OPTIONS, as /etc/default/fullyloaded sets them), read by the worker's own parser.",
            valueName: "file"))
    var optionsFrom: String?

    @Option(help: "Where the worker sockets are.")
    var socketDir = "/run/fullyloaded"

    @Option(
        name: .customLong("nginx-processes"),
        help: "nginx worker processes (default: one per core, as worker_processes auto starts).")
    var nginxProcessCount: Int?

    /// `--nginx-processes`, or one per core.
    var nginxProcesses: Int { nginxProcessCount ?? ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        try FlagRange.workers.check(workers)
        try FlagRange.requestThreads.check(threads)
        try FlagRange.deadline.check(deadline)
        guard nginxProcesses >= 1 else { throw ValidationError("--nginx-processes must be at least 1") }
        guard socketDir.hasPrefix("/") else { throw ValidationError("--socket-dir must be an absolute path") }
    }

    func run() throws {
        var threads = threads
        var deadline = deadline
        if let optionsFrom {
            let worker = try WorkerOptions.fromEnvironmentFile(optionsFrom)
            threads = worker.threads
            deadline = worker.admission.deadline
        }
        let servers = (0..<workers).map { SocketEndpoint.unix(path: "\(socketDir)/worker-\($0).sock") }
        let upstreams = NginxUpstreams(
            servers: servers, sizing: PoolSizing(requestThreads: threads, nginxProcesses: nginxProcesses),
            deadline: deadline, isMultiHost: false)
        print(upstreams.render(), terminator: "")
    }
}
