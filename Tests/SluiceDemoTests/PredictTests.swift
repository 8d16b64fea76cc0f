import Foundation
import Testing
import SluiceDemo

@Suite("ModelServer predictions")
struct PredictTests {
    let body = #"{"request_id": "uuid-123", "inputs": {"transaction_amount": 499.99, "merchant_category": "electronics"}, "parameters": {"threshold": 0.7}}"#

    @Test("predict answers the documented JSON fields")
    func documentedFields() throws {
        let server = try startServer(ModelBehavior(modelVersion: "v2.3.1"))
        defer { server.stop() }
        let r = try client(for: server).request("POST", "/v1/models/fraud-detector/predict",
                                                headers: [("content-type", "application/json")], text: body)
        #expect(r.status == 200)
        #expect(r.header("x-backend") == "v2.3.1")
        #expect(r.header("content-type") == "application/json")
        let json = try #require(r.jsonObject())
        #expect(json["request_id"] as? String == "uuid-123")
        #expect(json["model_name"] as? String == "fraud-detector")
        #expect(json["model_version"] as? String == "v2.3.1")
        let predictions = try #require(json["predictions"] as? [String: Any])
        #expect(predictions["fraud_probability"] as? Double == 0.5)
        #expect(predictions["is_fraud"] as? Bool == false)
        let metadata = try #require(json["metadata"] as? [String: Any])
        #expect(metadata["latency_ms"] is NSNumber)
        let timestamp = try #require(metadata["timestamp"] as? String)
        #expect(ISO8601DateFormatter().date(from: timestamp) != nil)
    }

    @Test("two versions disagree by their offset; the threshold decides is_fraud")
    func versionsDiffer() throws {
        let a = try startServer(ModelBehavior(modelVersion: "v2.3.1"))
        let b = try startServer(ModelBehavior(modelVersion: "v2.4.0", fraudProbabilityOffset: 0.02))
        defer { a.stop(); b.stop() }
        let high = #"{"inputs": {"transaction_amount": 690}}"#
        let ra = try #require(client(for: a).request("POST", "/v1/models/fraud-detector/predict", text: high).jsonObject())
        let rb = try #require(client(for: b).request("POST", "/v1/models/fraud-detector/predict", text: high).jsonObject())
        let pa = try #require((ra["predictions"] as? [String: Any])?["fraud_probability"] as? Double)
        let pb = try #require((rb["predictions"] as? [String: Any])?["fraud_probability"] as? Double)
        #expect(pa == 0.69)
        #expect(abs(pb - 0.71) < 1e-9)
        #expect((ra["predictions"] as? [String: Any])?["is_fraud"] as? Bool == false)
        #expect((rb["predictions"] as? [String: Any])?["is_fraud"] as? Bool == true)
        // A generated request_id when the request has none.
        #expect((ra["request_id"] as? String)?.isEmpty == false)
        #expect(FraudModel.fraudProbability(amount: 5000, offset: 0) == 0.99)
    }

    @Test("TF Serving, KServe v1 and v2 predict paths", arguments: [
        "/v1/models/credit:predict", "/v1/models/credit/predict", "/v2/models/credit/infer",
    ])
    func otherPaths(path: String) throws {
        let server = try startServer()
        defer { server.stop() }
        let r = try client(for: server).request("POST", path, text: body)
        #expect(r.status == 200)
        #expect(r.jsonObject()?["model_name"] as? String == "credit")
    }

    @Test("malformed JSON answers 400 JSON, and the connection stays usable")
    func malformed() throws {
        let server = try startServer()
        defer { server.stop() }
        let c = client(for: server)
        let r = try c.request("POST", "/v1/models/fraud-detector/predict", text: "{not json")
        #expect(r.status == 400)
        #expect(r.jsonObject()?["error"] as? String == "bad_request")
        let again = try c.request("POST", "/v1/models/fraud-detector/predict", text: body)
        #expect(again.status == 200)
        #expect(server.acceptedConnections == 1)
    }

    @Test("model status for health checks")
    func modelStatus() throws {
        let server = try startServer(ModelBehavior(modelVersion: "v9", errorRate: 1))
        defer { server.stop() }
        let r = try client(for: server).request("GET", "/v1/models/fraud-detector")
        #expect(r.status == 200, "health path ignores injected errors")
        let list = try #require(r.jsonObject()?["model_version_status"] as? [[String: Any]])
        #expect(list.first?["version"] as? String == "v9")
        #expect(list.first?["state"] as? String == "AVAILABLE")
    }
}
