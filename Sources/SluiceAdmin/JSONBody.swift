import Foundation

/// Decoding of the small JSON request bodies the admin API accepts.
enum JSONBody {
    /// The body as a JSON object, or nil when it is not valid JSON or not an object.
    static func object(_ body: [UInt8]) -> [String: Any]? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: []) else { return nil }
        return value as? [String: Any]
    }

    /// The body as `{"BACKEND": percent, ...}`: an object whose every value is a number.
    /// Returns the reason when it is not.
    static func weights(_ body: [UInt8]) -> Result<[String: Double], WeightsBodyError> {
        guard !body.isEmpty else { return .failure(.init(message: "empty body: expected {\"BACKEND\": percent, ...}")) }
        do {
            let weights = try JSONDecoder().decode([String: Double].self, from: Data(body))
            guard !weights.isEmpty else {
                return .failure(.init(message: "no weights given: expected {\"BACKEND\": percent, ...}"))
            }
            return .success(weights)
        } catch {
            if JSONBody.object(body) == nil {
                return .failure(.init(message: "body is not a JSON object: expected {\"BACKEND\": percent, ...}"))
            }
            return .failure(.init(message: "every weight must be a number (percent): expected {\"BACKEND\": percent, ...}"))
        }
    }

    /// Why a weights body was refused.
    struct WeightsBodyError: Error, Sendable {
        /// The operator-facing reason.
        var message: String
    }
}
