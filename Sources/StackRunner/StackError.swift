import POSIXSupport

/// Why the stack could not start or keep running.
public enum StackError: Error, CustomStringConvertible {
    case portInUse(UInt16, option: String = "--http-port")
    case missingFile(String)
    case invalidConfiguration(String)
    case childFailed(name: String, status: ExitStatus, logTail: String)
    case notReady(name: String, seconds: Double, logTail: String)
    case system(SystemCallError)

    public var description: String {
        switch self {
        case .portInUse(let port, let option):
            "port \(port) on 127.0.0.1 is already in use; choose another with \(option)"
        case .missingFile(let path):
            "missing \(path); run from the repository or pass --share-dir"
        case .invalidConfiguration(let problem):
            problem
        case .childFailed(let name, let status, let logTail):
            "\(name) \(status)" + (logTail.isEmpty ? "" : ":\n\(logTail)")
        case .notReady(let name, let seconds, let logTail):
            "\(name) did not answer within \(seconds) s" + (logTail.isEmpty ? "" : ":\n\(logTail)")
        case .system(let error):
            error.description
        }
    }
}
