/// The service's routes, and whether each is cheap or expensive.
public enum APIRoute: String, CaseIterable, Sendable {
    case ping = "/api/ping"
    case stats = "/api/stats"
    case load = "/api/load"
    case hash = "/api/hash"
    case verify = "/api/verify"
    case needsRehash = "/api/needs-rehash"

    /// The methods a route answers.
    public var methods: [String] {
        switch self {
        case .ping, .stats: ["GET", "HEAD"]
        case .load: ["GET"]
        case .hash, .verify, .needsRehash: ["POST"]
        }
    }

    /// Whether the route runs bcrypt (and so goes through admission).
    public var isExpensive: Bool {
        switch self {
        case .ping, .stats, .needsRehash: false
        case .load, .hash, .verify: true
        }
    }

    /// Finds the route for a request, or the 404/405 error to answer with.
    public static func match(method: String, path: String) -> Result<APIRoute, APIError> {
        guard let route = APIRoute(rawValue: path) else {
            return .failure(APIError(status: 404, code: "not_found", message: "no route \(path)"))
        }
        guard route.methods.contains(method) else {
            let allowed = route.methods.joined(separator: ", ")
            return .failure(
                APIError(
                    status: 405, code: "method_not_allowed", message: "\(path) takes \(allowed), not \(method)",
                    headers: [.init("Allow", allowed)]))
        }
        return .success(route)
    }
}
