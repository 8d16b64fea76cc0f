import Foundation
import Testing
@testable import SluiceAdmin
import SluiceProxy

/// POST endpoints over real sockets with curl: weights, bearer-token auth, reload, state actions, stop.
@Suite("Admin API: write endpoints")
struct AdminWriteEndpointsTests {
    /// Current weights of `route` as shown by /stats.
    static func statsWeights(_ f: AdminFixture, route: String) throws -> [String: Double] {
        let stats = try Curl.request("GET", f.base + "/stats").json
        let routes = try #require(stats["routes"] as? [[String: Any]])
        let r = try #require(routes.first { $0["name"] as? String == route })
        var out: [String: Double] = [:]
        for t in r["targets"] as? [[String: Any]] ?? [] { out[t["backend"] as? String ?? ""] = number(t["weight"]) }
        return out
    }

    @Test func validWeightsShowInStatsAndEvents() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let r = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 62.5, "b": 37.5}"#)
        #expect(r.status == 200)
        #expect(r.body == #"{"route":"canary","weights":{"a":62.5,"b":37.5}}"# + "\n")
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 62.5, "b": 37.5])
        #expect(f.control.currentSnapshot.table.routes[0].targets.map(\.weight) == [6250, 3750])

        let stats = try Curl.request("GET", f.base + "/stats").json
        let canary = try #require((stats["routes"] as? [[String: Any]])?.first)
        let events = try #require(canary["events"] as? [[String: Any]])
        let event = try #require(events.last)
        #expect(event["type"] as? String == "weight_change")
        #expect((event["reason"] as? String)?.contains("a=62.5") == true)
        #expect(event["target"] is NSNull)
        let time = try #require(event["time"] as? String)
        #expect(time.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(time)")

        let metrics = try PrometheusParser.parse(try Curl.request("GET", f.base + "/metrics").body).samples
        #expect(metrics.value("sluice_target_weight", ["route": "canary", "target": "a"]) == 62.5)
    }

    @Test func invalidWeightsAreRefusedAndChangeNothing() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let sum95 = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 85, "b": 10}"#)
        #expect(sum95.status == 400)
        #expect(try sum95.json["error"] as? String == "invalid_weights")
        #expect(try (sum95.json["message"] as? String)?.contains("weights sum to 95") == true)

        let unknownBackend = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 50, "b": 50, "zz": 0}"#)
        #expect(unknownBackend.status == 400)
        #expect(try unknownBackend.json["message"] as? String == "zz is not a target of route canary")

        let missing = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 100}"#)
        #expect(missing.status == 400)
        #expect(try missing.json["message"] as? String == "missing weight for target b")

        let badJSON = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 50,"#)
        #expect(badJSON.status == 400)
        #expect(try (badJSON.json["message"] as? String)?.contains("not a JSON object") == true)
        let notNumber = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": "50", "b": 50}"#)
        #expect(notNumber.status == 400)
        let empty = try Curl.request("POST", f.base + "/routes/canary/weights")
        #expect(empty.status == 400)

        let unknownRoute = try Curl.request("POST", f.base + "/routes/nope/weights", body: #"{"a": 100}"#)
        #expect(unknownRoute.status == 404)
        #expect(try unknownRoute.json["error"] as? String == "not_found")

        #expect(try Self.statsWeights(f, route: "canary") == ["a": 90, "b": 10])
    }

    @Test func postsNeedTheBearerToken() throws {
        let f = try AdminFixture(tokenFileContents: "  s3cret-token\n\n")
        defer { f.tearDown() }
        let url = f.base + "/routes/canary/weights"
        let body = #"{"a": 50, "b": 50}"#
        let none = try Curl.request("POST", url, body: body)
        #expect(none.status == 401)
        #expect(try none.json["error"] as? String == "unauthorized")
        #expect(none.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        let wrong = try Curl.request("POST", url, body: body, headers: ["Authorization: Bearer s3cret-tokeX"])
        #expect(wrong.status == 401)
        let prefix = try Curl.request("POST", url, body: body, headers: ["Authorization: Bearer s3cret"])
        #expect(prefix.status == 401)
        let basic = try Curl.request("POST", url, body: body, headers: ["Authorization: Basic s3cret-token"])
        #expect(basic.status == 401)
        let reload = try Curl.request("POST", f.base + "/reload")
        #expect(reload.status == 401)
        #expect(f.control.configVersion == 1)
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 90, "b": 10])

        let right = try Curl.request("POST", url, body: body,
                                     headers: ["Authorization: Bearer s3cret-token", "Expect: 100-continue"])
        #expect(right.status == 200)
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 50, "b": 50])
        #expect(try Curl.request("GET", f.base + "/health").status == 200)
    }

    @Test func unreadableOrEmptyTokenFileFailsStart() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let missing = f.dir.appendingPathComponent("no-such-token").path
        #expect(throws: AdminStartError.self) {
            _ = try AdminServer.start(config: .init(host: "127.0.0.1", port: 0, tokenFile: missing),
                                      control: f.control, logger: .init(label: "t"))
        }
        let empty = f.dir.appendingPathComponent("empty-token").path
        try " \n".write(toFile: empty, atomically: true, encoding: .utf8)
        do {
            _ = try AdminServer.start(config: .init(host: "127.0.0.1", port: 0, tokenFile: empty),
                                      control: f.control, logger: .init(label: "t"))
            Issue.record("start succeeded with an empty token file")
        } catch {
            #expect("\(error)".contains("empty"))
        }
    }

    @Test func constantTimeCompare() {
        #expect(BearerToken.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("abc".utf8), Array("abc\0".utf8)))
        #expect(!BearerToken.constantTimeEquals([], Array("a".utf8)))
        #expect(BearerToken("tok").accepts(authorization: "bearer tok"))
        #expect(!BearerToken("tok").accepts(authorization: nil))
    }

    @Test func reloadGoodThenBadFile() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        try f.writeConfig(AdminFixture.yaml.replacingOccurrences(of: "weight: 90", with: "weight: 80")
            .replacingOccurrences(of: "{ backend: b, weight: 10 }", with: "{ backend: b, weight: 20 }"))
        let good = try Curl.request("POST", f.base + "/reload")
        #expect(good.status == 200)
        #expect(good.body == #"{"config_version":2}"# + "\n")
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 80, "b": 20])

        try f.writeConfig(AdminFixture.yaml.replacingOccurrences(of: "weight: 90", with: "weight: 85")
            .replacingOccurrences(of: "backend: c", with: "backend: nowhere"))
        let bad = try Curl.request("POST", f.base + "/reload")
        #expect(bad.status == 400)
        let body = try bad.json
        #expect(body["error"] as? String == "invalid_config")
        let errors = try #require(body["errors"] as? [String])
        #expect(errors.count >= 2)
        #expect(errors.contains { $0.contains("weights sum to 95") })
        #expect(errors.contains { $0.contains("nowhere") })
        #expect(errors.allSatisfy { $0.hasPrefix(f.configPath + ":") })

        let stats = try Curl.request("GET", f.base + "/stats").json
        #expect(number(stats["config_version"]) == 2)
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 80, "b": 20])
        let metrics = try PrometheusParser.parse(try Curl.request("GET", f.base + "/metrics").body).samples
        #expect(metrics.value("sluice_config_version") == 2)
    }

    @Test func stateActionsChangeTheRoute() throws {
        let f = try AdminFixture(tokenFileContents: "tok")
        defer { f.tearDown() }
        let auth = ["Authorization: Bearer tok"]
        for action in ["rollback", "promote", "pause", "resume"] {
            #expect(try Curl.request("POST", f.base + "/routes/canary/\(action)").status == 401)
            #expect(try Curl.request("POST", f.base + "/routes/nope/\(action)", headers: auth).status == 404)
            #expect(try Curl.request("GET", f.base + "/routes/canary/\(action)").headers["allow"] == "POST")
        }
        // canary has no progressive block: promote and pause make no sense (409).
        #expect(try Curl.request("POST", f.base + "/routes/canary/promote", headers: auth).status == 409)
        #expect(try Curl.request("POST", f.base + "/routes/canary/pause", headers: auth).status == 409)
        let rolled = try Curl.request("POST", f.base + "/routes/canary/rollback?reason=bad%20canary", headers: auth)
        #expect(rolled.status == 200)
        #expect(try rolled.json["state"] as? String == "rolled_back")
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 100, "b": 0])
        #expect(try Curl.request("POST", f.base + "/routes/canary/rollback", headers: auth).status == 409)
        let resumed = try Curl.request("POST", f.base + "/routes/canary/resume", headers: auth)
        #expect(resumed.status == 200)
        #expect(try resumed.json["state"] as? String == "steady")
        #expect(try Self.statsWeights(f, route: "canary") == ["a": 90, "b": 10])
        let badTo = try Curl.request("POST", f.base + "/routes/canary/promote?to=50", headers: auth)
        #expect(badTo.status == 400)
    }

    @Test func stopClosesThePort() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        #expect(try Curl.request("GET", f.base + "/health").status == 200)
        f.server.stop()
        f.server.stop()
        let after = try Curl.request("GET", f.base + "/health")
        #expect(after.status == 0)
        #expect(after.curlExit == 7)   // couldn't connect
    }

    @Test func approveTakesTheGatedStepAndStatsExplainTheEvaluation() throws {
        let yaml = AdminFixture.yaml + """

              - name: gated
                match: { path_prefix: /gated }
                baseline: a
                targets:
                  - { backend: a, weight: 100 }
                  - { backend: b, weight: 0 }
                progressive: { target: b, steps: [10, 50], interval: 1h, gates: [{ at: 10, approval: manual }] }
                rollback:
                  evaluate_every: 100ms
                  min_requests: 5
                  relative_to_baseline: { method: sequential, alpha: 0.01 }
            """
        let f = try AdminFixture(yaml: yaml, tokenFileContents: "tok")
        defer { f.tearDown() }
        let auth = ["Authorization: Bearer tok"]
        f.control.tick()
        #expect(try Curl.request("POST", f.base + "/routes/gated/approve").status == 401)
        #expect(try Curl.request("POST", f.base + "/routes/canary/approve", headers: auth).status == 409)
        let stats = try Curl.request("GET", f.base + "/stats").json
        let before = try #require((stats["routes"] as? [[String: Any]])?.first { $0["name"] as? String == "gated" })
        #expect(before["state"] as? String == "awaiting_approval")
        #expect((before["events"] as? [[String: Any]])?.last?["type"] as? String == "awaiting_approval")

        let approved = try Curl.request("POST", f.base + "/routes/gated/approve", headers: auth)
        #expect(approved.status == 200)
        #expect(try approved.json["state"] as? String == "progressing")
        #expect(try Self.statsWeights(f, route: "gated") == ["a": 90, "b": 10])

        // Traffic on both sides, then an evaluation: its numbers are in /stats.
        let stats2 = f.control.currentSnapshot.targetStats[2]
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        for _ in 0..<20 { stats2[0].recordResponse(worker: 0, nowSecond: UInt64(ts.tv_sec), status: 200, isError: false, latencyMicros: 2000) }
        for _ in 0..<10 { stats2[1].recordResponse(worker: 0, nowSecond: UInt64(ts.tv_sec), status: 200, isError: false, latencyMicros: 2000) }
        // The window after a start is shortened to the whole seconds since it: tick until it covers them.
        var after: [String: Any] = [:]
        for _ in 0..<20 {
            usleep(150_000)
            f.control.tick()
            after = try #require((Curl.request("GET", f.base + "/stats").json["routes"] as? [[String: Any]])?.first { $0["name"] as? String == "gated" })
            if (after["evaluation"] as? [String: Any])?["outcome"] as? String == "passed" { break }
        }
        let evaluation = try #require(after["evaluation"] as? [String: Any])
        #expect(evaluation["outcome"] as? String == "passed")
        #expect(number(evaluation["min_requests"]) == 5)
        #expect((evaluation["baseline"] as? [String: Any])?["backend"] as? String == "a")
        let target = try #require((evaluation["targets"] as? [[String: Any]])?.first)
        #expect(target["backend"] as? String == "b")
        #expect(number(target["requests"]) == 10)
        let rules = (target["checks"] as? [[String: Any]])?.compactMap { $0["rule"] as? String }
        #expect(rules == ["sequential_errors", "sequential_latency"])
    }
}
