import FastCGI
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

/// A FastCGI worker process: request threads answering the password API, stopped by SIGTERM/SIGINT.
public struct WorkerProcess {
    private let configuration: WorkerConfiguration
    private let log: JSONLineLog

    /// The signals the worker waits for in one place; blocked in every thread.
    static let handledSignals = SignalSet([SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGUSR1])

    /// Creates a worker.
    public init(configuration: WorkerConfiguration, log: JSONLineLog = JSONLineLog(component: "worker")) {
        self.configuration = configuration
        self.log = log
    }

    /// Serves until SIGTERM or SIGINT, lets requests in flight finish, and returns.
    public func run() throws(SystemCallError) {
        try Self.handledSignals.blockInCallingThread()
        let listener: FileDescriptor
        switch configuration.listen {
        case .endpoint(let endpoint):
            listener = try endpoint.listen(backlog: configuration.backlog)
        case .inheritedDescriptor(let descriptor):
            listener = FileDescriptor(adopting: descriptor)
        }
        let service = PasswordService(configuration: configuration.service, processID: getpid())
        let maximumBody = configuration.service.maximumBodyBytes
        let server = FastCGIServer(listener: listener, threadCount: configuration.requestThreads) {
            let runner = InlineJobRunner()
            return { request in
                let method = request.parameter("REQUEST_METHOD") ?? "GET"
                let path = request.parameter("DOCUMENT_URI") ?? Self.path(ofURI: request.parameter("REQUEST_URI") ?? "/")
                if PasswordService.isPing(method: method, path: path, contentLength: request.parameter("CONTENT_LENGTH")) {
                    request.write(service.pingResponseBytes)
                    return
                }
                let body = request.readBody(keepingAtMost: maximumBody)
                let apiRequest = APIRequest(method: method, path: path, body: body.bytes, bodyLength: body.totalLength)
                request.write(service.respond(to: apiRequest, runner: runner).cgiBytes)
            }
        }
        try server.start()
        log.event(
            "ready", [("listen", .string("\(configuration.listen)")), ("threads", .int(configuration.requestThreads))])

        while true {
            let signal = Self.handledSignals.wait()
            if signal == SIGTERM || signal == SIGINT { break }
        }
        log.event("stopping", [("in_flight", .int(server.requestsInFlight))])
        let drained = server.stop(grace: configuration.shutdownGrace)
        if case .endpoint(.unix(let path)) = configuration.listen {
            // The worker made the socket file; nothing else will remove it.
            unlink(path)
        }
        log.event("stopped", [("drained", .bool(drained))])
    }

    static func path(ofURI uri: String) -> String {
        if let query = uri.firstIndex(of: "?") { return String(uri[..<query]) }
        return uri
    }
}
