import Foundation
import Testing
import SluiceAdmin
import SluiceProxy
import SluiceRouting
import SluiceStats
import SluiceCore

/// GET endpoints over real sockets with curl: health, ready, stats, metrics, assign, 404/405/400/413.
@Suite("Admin API: read endpoints")
struct AdminReadEndpointsTests {
    /// Records a few exchanges on `canary`: a gets 3 requests (2×200 at 4 ms and 12 ms, 1×503 error),
    /// b gets 1 (200), the shadow mirrors 1, drops 1 (in-flight limit) and agrees on 1 comparison.
    static func recordTraffic(_ control: ControlPlane) {
        let snapshot = control.currentSnapshot
        let now = MonotonicClock.now() / 1_000_000_000
        let a = snapshot.targetStats[0][0], b = snapshot.targetStats[0][1]
        for _ in 0..<3 { a.recordAssignment(worker: 0) }
        a.recordResponse(worker: 0, nowSecond: now, status: 200, isError: false, latencyMicros: 4_000)
        a.recordResponse(worker: 0, nowSecond: now, status: 200, isError: false, latencyMicros: 12_000)
        a.recordResponse(worker: 0, nowSecond: now, status: 503, isError: true, latencyMicros: 2_000)
        b.recordAssignment(worker: 0)
        b.recordResponse(worker: 0, nowSecond: now, status: 200, isError: false, latencyMicros: 8_000)
        let shadow = snapshot.shadowStats[0]!
        shadow.recordMirrored(worker: 0)
        shadow.recordResult(worker: 0, nowSecond: now, status: 200, isError: false, latencyMicros: 9_000)
        shadow.recordDropped(worker: 0, reason: .inFlightLimit)
        shadow.recordComparison(worker: 0, agreed: true)
        snapshot.global.increment(.requestsReceived, worker: 0)
    }

    @Test func healthAndReady() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let health = try Curl.request("GET", f.base + "/health")
        #expect(health.status == 200)
        #expect(health.body == "ok\n")
        #expect(health.headers["content-type"]?.hasPrefix("text/plain") == true)
        #expect(health.headers["connection"] == "close")

        let notReady = try Curl.request("GET", f.base + "/ready")
        #expect(notReady.status == 503)
        #expect(notReady.body == "not ready\n")
        f.control.setReady(true)
        let ready = try Curl.request("GET", f.base + "/ready")
        #expect(ready.status == 200)
        #expect(ready.body == "ready\n")
    }

    @Test func statsShapeAndFigures() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        Self.recordTraffic(f.control)
        let r = try Curl.request("GET", f.base + "/stats")
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "application/json")
        let stats = try r.json
        #expect(number(stats["uptime_seconds"]).map { $0 >= 0 } == true)
        #expect(number(stats["config_version"]) == 1)
        let routes = try #require(stats["routes"] as? [[String: Any]])
        #expect(routes.map { $0["name"] as? String } == ["canary", "ab"])

        let canary = routes[0]
        #expect(canary["state"] as? String == "steady")
        #expect(canary["baseline"] as? String == "a")
        #expect(canary["reason"] == nil)
        let targets = try #require(canary["targets"] as? [[String: Any]])
        #expect(targets.map { $0["backend"] as? String } == ["a", "b"])
        #expect(targets.map { number($0["weight"]) } == [90, 10])
        let a = targets[0]
        #expect(number(a["requests"]) == 3)
        let responses = try #require(a["responses"] as? [String: Any])
        #expect(number(responses["2xx"]) == 2)
        #expect(number(responses["3xx"]) == 0)
        #expect(number(responses["4xx"]) == 0)
        #expect(number(responses["5xx"]) == 1)
        #expect(number(a["errors"]) == 1)
        let window = try #require(a["window"] as? [String: Any])
        #expect(number(window["seconds"]) == 30)
        #expect(number(window["requests"]) == 3)
        #expect(abs((number(window["error_rate"]) ?? 0) - 1.0 / 3) < 1e-9)
        let p50 = try #require(number(window["p50_ms"])), p90 = try #require(number(window["p90_ms"]))
        let p99 = try #require(number(window["p99_ms"]))
        #expect(p50 > 3 && p50 < 5)
        #expect(p99 >= p90 && p90 >= p50)
        #expect(p99 > 11 && p99 < 13.5)

        let shadow = try #require(canary["shadow"] as? [String: Any])
        #expect(shadow["backend"] as? String == "c")
        #expect(number(shadow["mirrored"]) == 1)
        #expect(number(shadow["dropped"]) == 1)
        let byReason = try #require(shadow["dropped_by_reason"] as? [String: Any])
        #expect(number(byReason["in_flight_limit"]) == 1)
        #expect(number(byReason["body_too_large"]) == 0)
        #expect(number(shadow["errors"]) == 0)
        #expect(number(shadow["p99_ms"]).map { $0 > 8 && $0 < 10 } == true)
        #expect(number(shadow["compared"]) == 1)
        #expect(number(shadow["agreed"]) == 1)
        #expect(number(shadow["agreement_rate"]) == 1)
        #expect((canary["events"] as? [Any])?.isEmpty == true)

        let ab = routes[1]
        #expect(ab["shadow"] is NSNull)
        #expect(number((ab["targets"] as? [[String: Any]])?.first?["requests"]) == 0)
        let abWindow = (ab["targets"] as? [[String: Any]])?.first?["window"] as? [String: Any]
        #expect(number(abWindow?["seconds"]) == 60)

        let global = try #require(stats["global"] as? [String: Any])
        #expect(number(global["requests_received"]) == 1)
        #expect(number(global["connections_accepted"]) == 0)
        #expect(global["open_client_connections"] != nil)
    }

    @Test func metricsParseWithPrometheusClient() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        Self.recordTraffic(f.control)
        let r = try Curl.request("GET", f.base + "/metrics")
        #expect(r.status == 200)
        #expect(r.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let (types, samples) = try PrometheusParser.parse(r.body)

        let ca = ["route": "canary", "target": "a"]
        #expect(types["sluice_requests"] == "counter")
        #expect(samples.value("sluice_requests_total", ca) == 3)
        #expect(samples.value("sluice_requests_total", ["route": "canary", "target": "b"]) == 1)
        #expect(samples.value("sluice_responses_total", ca.merging(["class": "2xx"]) { $1 }) == 2)
        #expect(samples.value("sluice_responses_total", ca.merging(["class": "5xx"]) { $1 }) == 1)
        #expect(samples.value("sluice_errors_total", ca) == 1)
        #expect(types["sluice_target_weight"] == "gauge")
        #expect(samples.value("sluice_target_weight", ca) == 90)
        #expect(samples.value("sluice_target_weight", ["route": "ab", "target": "b"]) == 70)
        #expect(samples.value("sluice_route_state", ["route": "canary", "state": "steady"]) == 1)
        #expect(samples.value("sluice_route_state", ["route": "canary", "state": "rolled_back"]) == 0)

        #expect(types["sluice_request_duration_seconds"] == "histogram")
        #expect(samples.value("sluice_request_duration_seconds_count", ca) == 3)
        #expect(samples.value("sluice_request_duration_seconds_bucket", ca.merging(["le": "+Inf"]) { $1 }) == 3)
        #expect(samples.value("sluice_request_duration_seconds_bucket", ca.merging(["le": "0.005"]) { $1 }) == 2)
        let sum = try #require(samples.value("sluice_request_duration_seconds_sum", ca))
        #expect(abs(sum - 0.018) < 1e-9)
        let p99 = try #require(samples.value("sluice_window_p99_seconds", ca))
        #expect(p99 > 0.011 && p99 < 0.0135)

        let shadow = ["route": "canary", "backend": "c"]
        #expect(samples.value("sluice_shadow_mirrored_total", shadow) == 1)
        #expect(samples.value("sluice_shadow_dropped_total", shadow.merging(["reason": "in_flight_limit"]) { $1 }) == 1)
        #expect(samples.value("sluice_shadow_errors_total", shadow) == 0)
        #expect(samples.value("sluice_shadow_compared_total", shadow) == 1)
        #expect(samples.value("sluice_shadow_agreed_total", shadow) == 1)
        #expect(samples.value("sluice_rollbacks_total", ["route": "canary"]) == 0)
        #expect(samples.value("sluice_rollbacks_total", ["route": "ab"]) == 0)

        for counter in GlobalCounter.allCases where counter != .rollbacks {
            #expect(samples.value(counter.prometheusName) != nil, "missing \(counter.prometheusName)")
        }
        #expect(samples.value("sluice_requests_received_total") == 1)
        #expect(samples.value("sluice_config_version") == 1)
        #expect(samples.value("sluice_uptime_seconds").map { $0 >= 0 } == true)
    }

    @Test func assignMatchesStickyHash() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        var seen = Set<String>()
        for key in ["alice", "bob", "user-42", "carol", "dave", "erin", "frank", "grace"] {
            let r = try Curl.request("GET", f.base + "/routes/ab/assign?key=\(key)")
            #expect(r.status == 200)
            let body = try r.json
            let bucket = StickyHash.bucket(salt: "exp-1", key: key)
            let expected = bucket < 3000 ? "a" : "b"   // a owns [0, 3000), b owns [3000, 10000)
            #expect(body["route"] as? String == "ab")
            #expect(body["key"] as? String == key)
            #expect(number(body["bucket"]) == Double(bucket))
            #expect(body["target"] as? String == expected)
            seen.insert(expected)
        }
        #expect(seen == ["a", "b"])

        let odd = "user 7/é&x"
        let encoded = try Curl.request("GET", f.base + "/routes/ab/assign", extra: ["-G", "--data-urlencode", "key=\(odd)"])
        #expect(try encoded.json["key"] as? String == odd)
        #expect(try number(encoded.json["bucket"]) == Double(StickyHash.bucket(salt: "exp-1", key: odd)))

        let notSticky = try Curl.request("GET", f.base + "/routes/canary/assign?key=alice")
        #expect(notSticky.status == 400)
        #expect(try notSticky.json["message"] as? String == "route canary is not sticky")
        let unknown = try Curl.request("GET", f.base + "/routes/nope/assign?key=alice")
        #expect(unknown.status == 404)
        #expect(try unknown.json["error"] as? String == "not_found")
        let missing = try Curl.request("GET", f.base + "/routes/ab/assign")
        #expect(missing.status == 400)
    }

    @Test func unknownPathWrongMethodMalformedAndTooLarge() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let notFound = try Curl.request("GET", f.base + "/nope")
        #expect(notFound.status == 404)
        #expect(try notFound.json["error"] as? String == "not_found")
        #expect(try Curl.request("GET", f.base + "/routes/canary/frobnicate").status == 404)

        let postStats = try Curl.request("POST", f.base + "/stats")
        #expect(postStats.status == 405)
        #expect(postStats.headers["allow"] == "GET")
        #expect(try postStats.json["error"] as? String == "method_not_allowed")
        let getReload = try Curl.request("GET", f.base + "/reload")
        #expect(getReload.status == 405)
        #expect(getReload.headers["allow"] == "POST")
        #expect(try Curl.request("DELETE", f.base + "/routes/canary/weights").headers["allow"] == "POST")

        let conflicting = try RawSocket.exchange(port: f.server.address.port,
            "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        #expect(conflicting.hasPrefix("HTTP/1.1 400 "))
        #expect(conflicting.contains("\"error\":\"bad_request\""))
        let garbage = try RawSocket.exchange(port: f.server.address.port, "HELLO\r\n\r\n")
        #expect(garbage.hasPrefix("HTTP/1.1 400 "))
        let noHost = try RawSocket.exchange(port: f.server.address.port, "GET /health HTTP/1.1\r\n\r\n")
        #expect(noHost.hasPrefix("HTTP/1.1 400 "))

        let bigFile = f.dir.appendingPathComponent("big.json").path
        try String(repeating: "x", count: (1 << 20) + 1).write(toFile: bigFile, atomically: true, encoding: .utf8)
        let tooLarge = try Curl.request("POST", f.base + "/routes/canary/weights", extra: ["--data-binary", "@" + bigFile])
        #expect(tooLarge.status == 413)
        #expect(try tooLarge.json["error"] as? String == "body_too_large")
    }

    @Test func incompleteHeadTimesOutWith408() throws {
        let f = try AdminFixture(limits: AdminServerLimits(connectionDeadlineNanos: 2_000_000_000))
        defer { f.tearDown() }
        let started = Date()
        let answer = try RawSocket.exchange(port: f.server.address.port, "GET /health HTTP/1.1\r\nHost: x\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 408 "))
        #expect(Date().timeIntervalSince(started) >= 1.9)
        #expect(try Curl.request("GET", f.base + "/health").status == 200)
    }
}
