import Foundation
import LoopbackHTTP
import StackRunner

extension HTTPResponse {
    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// The `error` code of a JSON error body.
    public var errorCode: String? { json["error"] as? String }
}

/// A JSON object as a request body.
public func jsonBody(_ object: [String: Any]) -> [UInt8] {
    Array(try! JSONSerialization.data(withJSONObject: object))
}
