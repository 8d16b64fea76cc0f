import SluiceStats
import Foundation

/// The toy fraud model behind the predict endpoints: a deterministic function of the transaction amount,
/// shifted by the version's offset so two versions disagree slightly on the same input.
public enum FraudModel {
    /// Default decision threshold when the request's `parameters.threshold` is absent.
    public static let defaultThreshold = 0.7

    /// `min(0.99, max(0.01, amount / 1000 + offset))`, rounded to 4 decimals.
    public static func fraudProbability(amount: Double, offset: Double) -> Double {
        let p = min(0.99, max(0.01, amount / 1000 + offset))
        return (p * 10_000).rounded() / 10_000
    }

    /// Answers a predict/infer request body; a 400 error for a body that is not a JSON object.
    static func predict(_ request: ModelRequest, modelName: String, behavior: ModelBehavior, started: UInt64) -> ModelResponse {
        let body = request.body
        let version = behavior.modelVersion
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body.isEmpty ? Array("{}".utf8) : body))
        } catch {
            return .error(400, "bad_request", "request body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else {
            return .error(400, "bad_request", "request body must be a JSON object")
        }
        let requestID = (object["request_id"] as? String) ?? request.header("x-request-id") ?? UUID().uuidString.lowercased()
        let amount = transactionAmount(object["inputs"])
        let parameters = object["parameters"] as? [String: Any]
        let threshold = (parameters?["threshold"] as? NSNumber)?.doubleValue ?? defaultThreshold
        let p = fraudProbability(amount: amount, offset: behavior.fraudProbabilityOffset)
        let elapsedMs = Double(ModelClock.nowMicros() &- started) / 1000
        let json = """
        {"request_id": \(JSONText.quote(requestID)), "model_name": \(JSONText.quote(modelName)), \
        "model_version": \(JSONText.quote(version)), \
        "predictions": {"fraud_probability": \(JSONText.number(p)), "is_fraud": \(p >= threshold)}, \
        "metadata": {"latency_ms": \(JSONText.number(elapsedMs, decimals: 3)), "timestamp": \(JSONText.quote(Date().ISO8601Format()))}}
        """
        return .json(200, json)
    }

    /// `inputs.transaction_amount`, or the first number of a KServe v2 `inputs[0].data`; 0 when absent.
    static func transactionAmount(_ inputs: Any?) -> Double {
        if let dict = inputs as? [String: Any] {
            return (dict["transaction_amount"] as? NSNumber)?.doubleValue ?? 0
        }
        if let list = inputs as? [Any], let first = list.first {
            if let dict = first as? [String: Any] {
                if let data = dict["data"] as? [Any], let n = data.first as? NSNumber { return n.doubleValue }
                return (dict["transaction_amount"] as? NSNumber)?.doubleValue ?? 0
            }
            if let n = first as? NSNumber { return n.doubleValue }
        }
        return 0
    }
}
