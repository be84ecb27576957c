import Foundation

/// What the service needs of an HTTP request, as nginx passed it over FastCGI.
public struct APIRequest: Sendable {
    /// `GET`, `POST`, …
    public var method: String
    /// The path without the query string, e.g. `/api/hash`.
    public var path: String
    /// The request body, cut after `maximumBodyBytes + 1` bytes.
    public var body: [UInt8]
    /// How long the body really was (it may have been cut).
    public var bodyLength: Int
    /// When the request reached the front (monotonic seconds); N counts from here. `nil`: now.
    public var arrivedAt: Double?
    /// The body's `Content-Type`, as the client sent it.
    public var contentType: String?
    /// Who sent it, for the fair share.
    public var client: RequestClient

    /// Creates a request.
    public init(
        method: String, path: String, body: [UInt8] = [], bodyLength: Int? = nil, arrivedAt: Double? = nil,
        contentType: String? = nil, client: RequestClient = RequestClient()
    ) {
        self.client = client
        self.method = method
        self.path = path
        self.body = body
        self.bodyLength = bodyLength ?? body.count
        self.arrivedAt = arrivedAt
        self.contentType = contentType
    }

    /// Whether the body is declared JSON (`application/json`, parameters such as a charset allowed).
    public var declaresJSON: Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return type.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }
}
