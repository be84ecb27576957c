import POSIXSupport
import PasswordService

/// Everything one worker process needs to know.
public struct WorkerConfiguration: Sendable {
    /// Where the worker listens for nginx.
    public enum Listen: Sendable, Equatable {
        /// Open a socket here.
        case endpoint(SocketEndpoint)
        /// Use a listening socket inherited at this descriptor (socket activation).
        case inheritedDescriptor(Int32)
    }

    /// Where to listen.
    public var listen: Listen
    /// Request threads; must exceed the connections nginx keeps to this worker.
    public var requestThreads: Int
    /// The listen queue length.
    public var backlog: Int32
    /// The API's limits and defaults.
    public var service: PasswordServiceConfiguration
    /// How long a stopping worker waits for requests in flight.
    public var shutdownGrace: Double

    /// Creates a configuration.
    public init(
        listen: Listen, requestThreads: Int = 128, backlog: Int32 = 1024,
        service: PasswordServiceConfiguration = .init(), shutdownGrace: Double = 10
    ) {
        self.listen = listen
        self.requestThreads = requestThreads
        self.backlog = backlog
        self.service = service
        self.shutdownGrace = shutdownGrace
    }
}
