import Foundation
import Testing
import SluiceDemo

@Suite("ModelServer with curl")
struct CurlTests {
    @Test("curl: predict, model status, chunked upload and download", .enabled(if: curlAvailable))
    func curl() throws {
        let server = try startServer(ModelBehavior(modelVersion: "v2.4.0", fraudProbabilityOffset: 0.02))
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let predict = try runCurl(["-s", "-X", "POST", "\(base)/v1/models/fraud-detector/predict",
                                   "-H", "content-type: application/json",
                                   "-d", #"{"request_id": "c1", "inputs": {"transaction_amount": 100}}"#])
        #expect(predict.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(predict.output.utf8)) as? [String: Any])
        #expect(json["request_id"] as? String == "c1")
        #expect((json["predictions"] as? [String: Any])?["fraud_probability"] as? Double == 0.12)

        let head = try runCurl(["-s", "-i", "\(base)/v1/models/fraud-detector"])
        #expect(head.output.hasPrefix("HTTP/1.1 200 OK"))
        #expect(head.output.lowercased().contains("x-backend: v2.4.0"))

        // curl sends a chunked body (and Expect: 100-continue for big ones) with this header.
        let upload = try runCurl(["-s", "-H", "transfer-encoding: chunked", "--data-binary", String(repeating: "x", count: 5000),
                                  "\(base)/sink"])
        #expect(upload.output.contains(#""received": 5000"#))

        let download = try runCurl(["-s", "-o", "/dev/null", "-w", "%{size_download} %{http_code}", "\(base)/chunked/123457"])
        #expect(download.output == "123457 200")

        // Two URLs in one curl invocation reuse the connection.
        let before = server.acceptedConnections
        _ = try runCurl(["-s", "-o", "/dev/null", "-o", "/dev/null", "\(base)/echo", "\(base)/bytes/10"])
        #expect(server.acceptedConnections == before + 1)
    }
}
