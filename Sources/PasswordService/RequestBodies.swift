import Foundation

// The JSON bodies of the POST routes, as decoded: what may be left out, and what is a wrong value.

struct HashRequestBody: Decodable {
    var password: String
    var cost: Int?

    enum CodingKeys: String, CodingKey {
        case password, cost
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        password = try container.decode(String.self, forKey: .password)
        // Foundation reports 5.5 or 1e30 for an Int as "not valid JSON"; read a Double and say what is wrong.
        // Left out means the default; `null` is a wrong value, not a way to say "default".
        if container.contains(.cost) {
            let number = try container.decode(Double.self, forKey: .cost)
            guard number.rounded() == number, abs(number) < 1_000_000 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .cost, in: container, debugDescription: "must be a whole number within bcrypt's range")
            }
            cost = Int(number)
        }
    }
}

struct VerifyRequestBody: Decodable {
    var password: String
    /// `nil`: `"hash": null`, an unknown user. Left out is still a missing field.
    var hash: String?

    enum CodingKeys: String, CodingKey {
        case password, hash
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        password = try container.decode(String.self, forKey: .password)
        guard container.contains(.hash) else {
            throw DecodingError.keyNotFound(
                CodingKeys.hash, .init(codingPath: [], debugDescription: "field \"hash\" is required"))
        }
        hash = try container.decodeNil(forKey: .hash) ? nil : container.decode(String.self, forKey: .hash)
    }
}

struct NeedsRehashRequestBody: Decodable {
    var hash: String
}
