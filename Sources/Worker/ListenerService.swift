import Admission
import FastCGI
import Logging
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

/// The FastCGI listener and its request threads, answering the password API: started when the
/// worker is ready to serve, stopped by letting the requests in flight finish.
final class ListenerService: WorkerService {
    /// The server, for the worker's wait loop (requests served, in flight).
    let server: FastCGIServer
    private let listen: WorkerConfiguration.Listen
    private let shutdownGrace: Double
    /// Whether every request in flight finished within the grace, once stopped.
    private(set) var drained = false

    /// Listens (or takes the inherited socket) and starts the request threads.
    init(configuration: WorkerConfiguration, admission: AdmissionService?, log: Logger) throws(SystemCallError) {
        listen = configuration.listen
        shutdownGrace = configuration.shutdownGrace
        let service = PasswordService(configuration: configuration.service, processID: getpid())
        let maximumBody = configuration.service.maximumBodyBytes
        let listener: FileDescriptor
        switch configuration.listen {
        case .endpoint(let endpoint):
            listener = try endpoint.listen(backlog: configuration.backlog, unixPermissions: configuration.socketMode)
        case .inheritedDescriptor(let descriptor):
            listener = FileDescriptor(adopting: descriptor)
        }
        let statsCache: StatsCache
        if let admission {
            let cost = configuration.service.defaultCost
            statsCache = StatsCache { admission.controller.snapshot(predictionCost: cost).statsBody.bytes }
        } else {
            statsCache = StatsCache { Array(#"{"admission":false}"#.utf8) }
        }
        let stats: @Sendable () -> [UInt8] = { statsCache.body() }
        // A socket from systemd outlives this process and goes to the next one: stop accepting
        // without shutting it down. Our own socket is shut down, so nginx goes elsewhere at once.
        let stopMode: FastCGIServer.StopMode =
            if case .inheritedDescriptor = configuration.listen { .interruptAcceptingThreads } else {
                .shutDownListener
            }
        let sizing = PoolSizing(requestThreads: configuration.requestThreads, nginxProcesses: 1)
        let expensive = configuration.expensiveRequestThreads ?? sizing.expensiveRequests
        let gate = ExpensiveRequestGate(
            limit: expensive, holdLimit: PoolSizing.heldRefusals(expensiveRequests: expensive))
        // Anyone who reaches a TCP port could speak raw FastCGI, past nginx's limits: only the
        // front's addresses are served.
        let isTCP = AddressRange.localAddress(ofSocket: listener.rawValue) != nil
        let peerLog = RefusalLog(log: log)
        let reportPeer: @Sendable (String) -> Void = { peer in peerLog.recordForeignPeer(peer) }
        let invalidLog = RefusalLog(log: log)
        let reportInvalid: @Sendable (String) -> Void = { reason in invalidLog.recordInvalidRequest(reason) }
        // Connections that have not sent their request wait without a thread, each on a
        // descriptor: as many as the descriptor limit leaves beside the threads' own.
        let descriptors = (try? ResourceLimits.raiseOpenFilesToHardLimit()) ?? 1024
        let gateLimits = ConnectionGateLimits(
            capacity: min(4096, descriptors - configuration.requestThreads - 256))
        let server = try FastCGIServer(
            listener: listener, threadCount: configuration.requestThreads, parkedThreads: sizing.pinnedThreads,
            stopMode: stopMode, gateLimits: gateLimits,
            allowedPeers: isTCP ? configuration.allowedPeers : nil, onRefusedPeer: reportPeer,
            onInvalidRequest: reportInvalid
        ) {
            let threadRunner = admission?.makeRunner(gate: gate) ?? InlineJobRunner()
            return { request in
                let method = request.parameter("REQUEST_METHOD") ?? "GET"
                let path = WorkerProcess.path(ofURI: request.parameter("REQUEST_URI") ?? "/")
                if PasswordService.isPing(
                    method: method, path: path, contentLength: request.parameter("CONTENT_LENGTH"))
                {
                    admission?.controller.countPing()
                    request.write(service.pingResponseBytes)
                    return
                }
                var body = request.readBody(keepingAtMost: maximumBody)
                request.wipeInputBuffer()
                var apiRequest = APIRequest(
                    method: method, path: path, body: body.bytes, bodyLength: body.totalLength,
                    arrivedAt: ArrivalTime.monotonic(fromWallClock: request.parameter(ArrivalTime.parameterName)),
                    contentType: request.parameter("CONTENT_TYPE"),
                    client: RequestClient(
                        remoteAddress: request.parameter("REMOTE_ADDR"),
                        namedClient: request.parameter(WorkerProcess.namedClientParameter)))
                let response = service.respond(to: apiRequest, runner: threadRunner, stats: stats)
                // The body held the password in the clear; the request shares its storage.
                apiRequest.body = []
                body.bytes.wipe()
                request.write(response.cgiBytes)
            }
        }
        self.server = server
        try server.start()
    }

    func stop() {
        drained = server.stop(grace: shutdownGrace)
        if case .endpoint(.unix(let path)) = listen {
            // The worker made the socket file; nothing else will remove it.
            unlink(path)
        }
    }
}
