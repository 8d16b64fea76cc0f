import Foundation
import SluiceCore
import SluiceDemo
import SluiceProxy
import SluiceSupport
import Testing

extension Integration {
    /// Endpoint health: active checks route around dead endpoints and bring them back, a backend
    /// with no healthy endpoint fails fast, and passive ejection works without any health check.
    @Suite struct Health {
        /// One backend `pool` over `ports`, one route `models` on `/`, `health` appended to the backend
        /// (`protocol`: the backend's `protocol:`, nil for the default).
        static func yaml(ports: [UInt16], health: String?, workers: Int = 2, protocol proto: String? = nil) -> String {
            let endpoints = ports.map { "127.0.0.1:\($0)" }.joined(separator: ", ")
            let extra = (proto.map { ", protocol: \($0)" } ?? "") + (health.map { ", health_check: \($0)" } ?? "")
            return """
            workers: \(workers)
            listeners:
              - { name: test, address: 127.0.0.1:0 }
            backends:
              - { name: pool, endpoints: [\(endpoints)], timeouts: { connect: 500ms, request: 3s }\(extra) }
            routes:
              - name: models
                match: { path_prefix: / }
                baseline: pool
                targets:
                  - { backend: pool, weight: 100 }
            """
        }

        static let fastCheck = "{ path: /v1/models/fraud-detector, interval: 200ms, timeout: 150ms, unhealthy_after: 2, healthy_after: 2 }"

        /// GET `path` through the proxy on a fresh connection: (status, x-backend, body).
        static func get(_ h: ProxyHarness, _ path: String = "/echo") -> (status: Int, backend: String?, body: String, micros: UInt64) {
            let started = MonotonicClock.now()
            do {
                let r = try SimpleHTTPClient.get(port: h.port, path: path, timeoutSeconds: 5)
                return (r.status, r.header("x-backend"), r.text, (MonotonicClock.now() - started) / 1000)
            } catch {
                return (0, nil, "\(error)", (MonotonicClock.now() - started) / 1000)
            }
        }

        /// The health row of the endpoint on `port`.
        static func row(_ h: ProxyHarness, port: UInt16) -> EndpointHealthRow? {
            h.control.currentSnapshot.endpointHealthRows(backend: 0, now: MonotonicClock.now())
                .first { $0.address == "127.0.0.1:\(port)" }
        }

        /// Errors counted for the route's only target.
        static func targetErrors(_ h: ProxyHarness) -> UInt64 {
            h.control.currentSnapshot.targetStats[0][0].snapshot(nowSecond: MonotonicClock.now() / 1_000_000_000).errors
        }

        @Test(.timeLimit(.minutes(1)))
        func activeChecksRouteAroundADeadEndpointAndBringItBack() throws {
            let a = try startModelServer("a")
            defer { a.stop() }
            var b = try startModelServer("b")
            let bPort = b.port
            defer { b.stop() }
            let h = try ProxyHarness(yaml: Self.yaml(ports: [a.port, bPort], health: Self.fastCheck))
            defer { h.stop() }

            // Both endpoints start healthy and share the traffic.
            var seen = Set<String>()
            for _ in 0..<10 {
                let r = Self.get(h)
                #expect(r.status == 200, "warm-up: \(r.body)")
                if let v = r.backend { seen.insert(v) }
            }
            #expect(seen == ["a", "b"], "round-robin over both endpoints: \(seen)")

            b.stop()
            let stoppedAt = Date()
            let marked = eventually(3) { Self.row(h, port: bPort)?.healthy == false }
            let delay = Date().timeIntervalSince(stoppedAt)
            #expect(marked, "endpoint b never marked unhealthy")
            #expect(delay < 1.5, "marked unhealthy after \(delay) s")
            #expect(Self.row(h, port: a.port)?.healthy == true)

            // From now on nothing goes to b and nothing fails.
            let servedBefore = a.requestsServed
            for i in 0..<30 {
                let r = Self.get(h)
                #expect(r.status == 200 && r.backend == "a", "request \(i) after b was marked down: \(r.status) \(r.body.prefix(200))")
            }
            #expect(a.requestsServed - servedBefore >= 30)

            // b comes back on the same port: healthy again after `healthy_after` passes, and used.
            b = try ModelServer.start(port: bPort, behavior: ModelBehavior(modelVersion: "b"))
            #expect(eventually(3) { Self.row(h, port: bPort)?.healthy == true }, "b never came back")
            var back = false
            for _ in 0..<10 where !back {
                let r = Self.get(h)
                #expect(r.status == 200)
                back = r.backend == "b"
            }
            #expect(back, "no request reached b after it recovered")
        }

        @Test(.timeLimit(.minutes(1)))
        func allEndpointsUnhealthyFailsFastWith503AndCountsAsAnError() throws {
            let a = try startModelServer("a")
            let b = try startModelServer("b")
            let ports = [a.port, b.port]
            let h = try ProxyHarness(yaml: Self.yaml(ports: ports, health: Self.fastCheck))
            defer { h.stop() }
            #expect(Self.get(h).status == 200, "healthy at first")
            a.stop()
            b.stop()
            #expect(eventually(3) { ports.allSatisfy { Self.row(h, port: $0)?.healthy == false } }, "never marked unhealthy")

            let errorsBefore = Self.targetErrors(h)
            let fastBefore = h.control.currentSnapshot.global.value(.noHealthyUpstream)
            for i in 0..<5 {
                let r = Self.get(h)
                #expect(r.status == 503, "request \(i): \(r.status) \(r.body)")
                let json = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any]
                #expect(json?["error"] as? String == "no_healthy_upstream", "\(r.body)")
                #expect(r.micros < 100_000, "took \(r.micros) µs")
            }
            #expect(Self.targetErrors(h) - errorsBefore == 5, "each fast failure is an error of the target")
            #expect(h.control.currentSnapshot.global.value(.noHealthyUpstream) - fastBefore == 5)
            #expect(h.control.currentSnapshot.global.value(.endpointsMarkedUnhealthy) >= 2)
        }

        @Test(.timeLimit(.minutes(1)))
        func passiveEjectionWithoutHealthCheck() throws {
            let live = try startModelServer("live")
            defer { live.stop() }
            let dead = try startModelServer("dead")
            let deadPort = dead.port
            dead.stop()
            usleep(50_000)
            let h = try ProxyHarness(yaml: Self.yaml(ports: [live.port, deadPort], health: nil, workers: 1))
            defer { h.stop() }

            // Round-robin: every other request hits the refusing endpoint until it has failed 5 times in a row.
            var failures = 0
            for _ in 0..<10 {
                let r = Self.get(h)
                if r.status != 200 {
                    failures += 1
                    #expect(r.status == 503, "\(r.body)")
                }
            }
            #expect(failures == 5, "5 connect failures before the ejection, saw \(failures)")
            let row = Self.row(h, port: deadPort)
            #expect(row?.ejectedWorkers == 1, "\(String(describing: row))")
            #expect(row?.passiveConsecutiveFailures == 5)
            #expect(row?.healthy == true, "no active check: still 'healthy'")
            #expect(h.control.currentSnapshot.global.value(.endpointEjections) == 1)

            for i in 0..<20 {
                let r = Self.get(h)
                #expect(r.status == 200 && r.backend == "live", "request \(i) after the ejection: \(r.status) \(r.body.prefix(200))")
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func passiveEjectionOnConsecutive5xx() throws {
            let ok = try startModelServer("ok")
            defer { ok.stop() }
            let bad = try ModelServer.start(port: 0, behavior: ModelBehavior(modelVersion: "bad", errorRate: 1))
            defer { bad.stop() }
            let h = try ProxyHarness(yaml: Self.yaml(ports: [ok.port, bad.port], health: nil, workers: 1))
            defer { h.stop() }
            var fiveHundreds = 0
            for _ in 0..<10 where Self.get(h).status == 500 { fiveHundreds += 1 }
            #expect(fiveHundreds == 5, "the 5xx are forwarded until the ejection: \(fiveHundreds)")
            // The client may read the 5th 500 a moment before the worker counts it.
            #expect(eventually(1) { Self.row(h, port: bad.port)?.ejectedWorkers == 1 })
            let badServed = bad.requestsServed
            for i in 0..<20 {
                let r = Self.get(h)
                #expect(r.status == 200 && r.backend == "ok", "request \(i): \(r.status)")
            }
            #expect(bad.requestsServed == badServed, "the ejected endpoint got traffic")
        }

        @Test(.timeLimit(.minutes(1)))
        func passiveEjectionNeverEmptiesABackend() throws {
            let dead = try startModelServer("dead")
            let deadPort = dead.port
            dead.stop()
            usleep(50_000)
            let h = try ProxyHarness(yaml: Self.yaml(ports: [deadPort], health: nil, workers: 1))
            defer { h.stop() }
            for _ in 0..<8 {
                let r = Self.get(h)
                #expect(r.status == 503)
                let json = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8))) as? [String: Any]
                #expect(json?["error"] as? String == "upstream_unavailable", "still tried (not failed fast): \(r.body)")
            }
            #expect(Self.row(h, port: deadPort)?.ejectedWorkers == 1)
        }
    }
}
