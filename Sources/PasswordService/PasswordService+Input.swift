import Bcrypt
import Foundation
import POSIXSupport

/// Reading a request: its JSON body, decoded with every mistake named, and the checks on a
/// password and a cost.
extension PasswordService {
    /// A password the hash will see whole: 1 to 72 bytes without NUL for bcrypt; any length up to
    /// the body's limit (`wholeLength`: peppered, where bcrypt sees a 44-character HMAC, or argon2id,
    /// which reads any length), still without NUL.
    func check(password: String, wholeLength: Bool = false) throws(APIError) {
        guard !password.isEmpty else { throw .badRequest("empty_password", "password must not be empty") }
        if wholeLength {
            guard !password.utf8.contains(0) else { throw APIError(BcryptError.passwordContainsNUL) }
            return
        }
        do throws(BcryptError) {
            try BcryptHasher.validate(password: password)
        } catch {
            throw APIError(error)
        }
    }

    func check(cost: Int) throws(APIError) {
        guard configuration.allowedCosts.contains(cost) else {
            throw APIError(BcryptError.costOutOfRange(cost: cost, allowed: configuration.allowedCosts))
        }
    }

    func decode<Body: Decodable>(_ type: Body.Type, from request: APIRequest) throws(APIError) -> Body {
        // A JSON body must say so: a form or text/plain POST (what any web page can make a
        // visitor's browser send, without asking) is no API call.
        guard request.declaresJSON else {
            throw APIError(
                status: 415, code: "unsupported_media_type", message: "the body must be sent as application/json")
        }
        if let key = JSONObjectKeys.firstDuplicate(in: request.body) {
            throw .badRequest("duplicate_field", "field \"\(key)\" is given more than once")
        }
        // The decoder's copy of the body holds the password too: wiped once decoded.
        var data = Data(request.body)
        defer { data.withUnsafeMutableBytes { SecretMemory.wipe($0) } }
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch DecodingError.keyNotFound(let key, _) {
            throw .badRequest("missing_field", "field \"\(key.stringValue)\" is required")
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" has the wrong type")
        } catch DecodingError.valueNotFound(_, let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" must not be null")
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            throw .badRequest("invalid_field", "field \"\(Self.name(context))\" \(context.debugDescription)")
        } catch DecodingError.typeMismatch(_, _) {
            throw .badRequest("invalid_json", "request body must be a JSON object")
        } catch {
            throw .badRequest("invalid_json", "request body is not valid JSON")
        }
    }

    static func name(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }
}
