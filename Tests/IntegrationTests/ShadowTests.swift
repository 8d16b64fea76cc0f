import Foundation
import SluiceCore
import SluiceDemo
import SluiceStats
import SluiceSupport
import Testing

extension Integration {
    /// Shadow mirroring: copies reach the shadow, their responses are compared and dropped,
    /// and a slow, failing or absent shadow changes nothing for the caller.
    @Suite struct Shadow {
        static func yaml(primary: UInt16, shadow: UInt16, maxInFlight: Int = 64, maxBody: String = "1MiB", shadowTimeout: String = "5s") -> String {
            """
            workers: 1
            listeners:
              - { name: test, address: 127.0.0.1:0 }
            backends:
              - { name: v1, endpoints: [127.0.0.1:\(primary)], model_version: v2.3.1 }
              - { name: rc, endpoints: [127.0.0.1:\(shadow)], timeouts: { connect: 500ms, request: \(shadowTimeout) } }
            routes:
              - name: fraud
                match: { path_prefix: /v1/models/fraud-detector }
                baseline: v1
                targets:
                  - { backend: v1, weight: 100 }
                shadow:
                  backend: rc
                  percent: 100
                  max_in_flight: \(maxInFlight)
                  max_body_bytes: \(maxBody)
                  compare: { json_pointer: /predictions/fraud_probability, tolerance: 0.01 }
            """
        }

        static let body = #"{"request_id":"r-1","inputs":{"transaction_amount":499.99,"merchant_category":"electronics"}}"#

        func shadowFigures(_ h: ProxyHarness) -> ShadowSnapshot {
            h.control.currentSnapshot.shadowStats[0]!.snapshot(nowSecond: MonotonicClock.now() / 1_000_000_000)
        }

        /// Sends `n` predictions over one keep-alive connection; returns the slowest latency in ms.
        func predict(_ h: ProxyHarness, _ n: Int, body: String = Shadow.body) throws -> Double {
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 10)
            defer { client.close() }
            var worst = 0.0
            for _ in 0..<n {
                let start = Date()
                let r = try client.request("POST", "/v1/models/fraud-detector/predict", headers: [("content-type", "application/json")], text: body)
                worst = max(worst, Date().timeIntervalSince(start) * 1000)
                #expect(r.status == 200)
                #expect(r.header("x-sluice-target") == "v1")
                #expect(r.jsonObject()?["model_version"] as? String == "v2.3.1")
            }
            return worst
        }

        @Test(.timeLimit(.minutes(1)))
        func mirrorsAndComparesPredictions() throws {
            let primary = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v2.3.1"))
            let shadow = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v2.5.0-rc1", fraudProbabilityOffset: 0.005))
            defer { primary.stop(); shadow.stop() }
            let h = try ProxyHarness(yaml: Shadow.yaml(primary: primary.port, shadow: shadow.port))
            defer { h.stop() }
            _ = try predict(h, 40)
            #expect(eventually(5) { shadowFigures(h).compared == 40 }, "\(shadowFigures(h))")
            let s = shadowFigures(h)
            #expect(s.mirrored == 40)
            #expect(s.agreed == 40)
            #expect(s.errors == 0)
            #expect(shadow.requestsServed == 40)

            // A candidate whose prediction moved beyond the tolerance disagrees.
            shadow.setBehavior(ModelBehavior(modelVersion: "v2.5.0-rc1", fraudProbabilityOffset: 0.2))
            _ = try predict(h, 10)
            #expect(eventually(5) { shadowFigures(h).compared == 50 })
            #expect(shadowFigures(h).agreed == 40)
        }

        @Test(.timeLimit(.minutes(1)))
        func mirrorsHTTP2Requests() throws {
            let primary = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v2.3.1"))
            let shadow = try ModelServer.start(behavior: ModelBehavior(modelVersion: "rc", fraudProbabilityOffset: 0.005))
            defer { primary.stop(); shadow.stop() }
            let h = try ProxyHarness(yaml: Shadow.yaml(primary: primary.port, shadow: shadow.port))
            defer { h.stop() }
            for _ in 0..<10 {
                let r = try Command.curl(["--http2-prior-knowledge", "-X", "POST", "\(h.base)/v1/models/fraud-detector/predict",
                                          "-H", "content-type: application/json", "-d", Shadow.body])
                #expect(r.status == 200)
                #expect(r.json?["model_version"] as? String == "v2.3.1")
            }
            #expect(eventually(5) { shadowFigures(h).compared == 10 }, "\(shadowFigures(h))")
            #expect(shadowFigures(h).agreed == 10)
        }

        @Test(.timeLimit(.minutes(1)))
        func slowShadowDoesNotSlowTheCaller() throws {
            let primary = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v2.3.1"))
            let shadow = try ModelServer.start(behavior: ModelBehavior(modelVersion: "rc", baseLatencyMicros: 2_000_000))
            defer { primary.stop(); shadow.stop() }
            let h = try ProxyHarness(yaml: Shadow.yaml(primary: primary.port, shadow: shadow.port))
            defer { h.stop() }
            let start = Date()
            let worst = try predict(h, 20)
            let total = Date().timeIntervalSince(start)
            // 20 sequential requests: had any waited for the 2 s shadow, this would take 40 s.
            #expect(total < 3, "20 requests took \(total) s with a 2 s shadow")
            #expect(worst < 500, "slowest caller request \(worst) ms")
            #expect(eventually(10) { shadowFigures(h).results.responses == 20 }, "\(shadowFigures(h))")
        }

        @Test(.timeLimit(.minutes(1)))
        func failingOrAbsentShadowIsCountedNeverSeen() throws {
            let primary = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v2.3.1"))
            let failing = try ModelServer.start(behavior: ModelBehavior(modelVersion: "rc", errorRate: 1.0))
            defer { primary.stop(); failing.stop() }
            let h = try ProxyHarness(yaml: Shadow.yaml(primary: primary.port, shadow: failing.port))
            _ = try predict(h, 15)
            #expect(eventually(5) { shadowFigures(h).errors == 15 }, "\(shadowFigures(h))")
            #expect(shadowFigures(h).compared == 0)
            h.stop()

            // A shadow whose port refuses connections.
            let closedPort = failing.port
            failing.stop()
            let h2 = try ProxyHarness(yaml: Shadow.yaml(primary: primary.port, shadow: closedPort))
            defer { h2.stop() }
            _ = try predict(h2, 15)
            #expect(eventually(5) { shadowFigures(h2).errors == 15 }, "\(shadowFigures(h2))")
        }

        @Test(.timeLimit(.minutes(1)))
        func copiesBeyondTheLimitsAreSkippedAndCounted() throws {
            let primary = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v2.3.1"))
            let shadow = try ModelServer.start(behavior: ModelBehavior(modelVersion: "rc", baseLatencyMicros: 1_500_000))
            defer { primary.stop(); shadow.stop() }
            let h = try ProxyHarness(yaml: Shadow.yaml(primary: primary.port, shadow: shadow.port, maxInFlight: 2, maxBody: "256B"))
            defer { h.stop() }
            _ = try predict(h, 6)
            var s = shadowFigures(h)
            #expect(s.mirrored == 2, "\(s)")
            #expect(s.droppedByReason[.inFlightLimit] == 4, "\(s)")
            // A body above max_body_bytes is never copied.
            let big = #"{"inputs":{"transaction_amount":10,"pad":""# + String(repeating: "x", count: 400) + #""}}"#
            _ = try predict(h, 1, body: big)
            s = shadowFigures(h)
            #expect(s.droppedByReason[.bodyTooLarge] == 1, "\(s)")
        }
    }
}
