import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// Several x-forwarded-for fields keep every hop, in order, with the client appended (HTTP/1.1 and HTTP/2).
    @Suite struct ForwardedForList {
        @Test(.timeLimit(.minutes(1)))
        func everyEarlierHopIsKept() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }
            for mode in ["--http1.1", "--http2-prior-knowledge"] {
                let r = try Command.curl([mode, "-H", "x-forwarded-for: 10.1.1.1", "-H", "X-Forwarded-For: 10.2.2.2, 10.3.3.3", "\(h.base)/echo"])
                let headers = r.json?["headers"] as? [String: Any]
                #expect(headers?["x-forwarded-for"] as? String == "10.1.1.1, 10.2.2.2, 10.3.3.3, 127.0.0.1", "\(mode): \(r.body)")
            }
        }
    }
}
