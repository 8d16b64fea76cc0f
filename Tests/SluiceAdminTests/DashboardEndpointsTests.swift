import Foundation
import Testing
import SluiceCore
@testable import SluiceAdmin

/// The dashboard page, the history ring and `GET /stats/history`, `/stats`' rollout progress.
@Suite("Admin API: dashboard and history")
struct DashboardEndpointsTests {
    static func routes(_ n: Int) -> [HistoryRouteSample] {
        [HistoryRouteSample(route: "r", state: "steady", targets: [
            HistoryTargetSample(backend: "a", weight: 10_000, requests: UInt64(n), errors: 0, p50Ms: 1, p99Ms: 2),
        ], shadow: nil)]
    }

    @Test func ringKeepsTheNewestSamplesAndAnswersSince() {
        var ring = HistoryRing(capacity: 3)
        #expect(ring.samples().isEmpty)
        for i in 1...5 { ring.append(time: Double(i), routes: Self.routes(i)) }
        #expect(ring.count == 3)
        #expect(ring.latestSeq == 5)
        #expect(ring.samples().map(\.seq) == [3, 4, 5])
        #expect(ring.samples(after: 1).map(\.seq) == [3, 4, 5])
        #expect(ring.samples(after: 3).map(\.seq) == [4, 5])
        #expect(ring.samples(after: 5).isEmpty)
        #expect(ring.samples(after: 99).isEmpty)
        #expect(ring.samples(after: 4).first?.routes.first?.targets.first?.requests == 5)
        for i in 6...700 { ring.append(time: Double(i), routes: Self.routes(i)) }
        #expect(ring.samples().map(\.seq) == [698, 699, 700])
    }

    /// A full ring of 20 routes × 3 targets: its JSON size and the time to build it (printed).
    @Test func aFullRingOfTwentyRoutesSerializesQuickly() {
        var ring = HistoryRing()
        let route = { (i: Int) in
            HistoryRouteSample(route: "route-\(i)", state: "progressing", targets: (0..<3).map { t in
                HistoryTargetSample(backend: "backend-\(t)", weight: 3_333, requests: 1_234, errors: 5, p50Ms: 2.345, p99Ms: 12.5)
            }, shadow: i == 0 ? HistoryShadowSample(mirrored: 100, dropped: 1, compared: 99, agreed: 98) : nil)
        }
        for s in 0..<600 { ring.append(time: 1_800_000_000 + Double(s), routes: (0..<20).map(route)) }
        let started = MonotonicClock.now()
        let full = StatsHistory.json(samples: ring.samples(), capacity: ring.capacity, latest: ring.latestSeq).serialized
        let fullMs = Double(MonotonicClock.now() - started) / 1e6
        let one = StatsHistory.json(samples: ring.samples(after: 599), capacity: ring.capacity, latest: ring.latestSeq).serialized
        print("history of 20 routes × 3 targets: full ring \(full.count / 1024) KiB in \(Int(fullMs)) ms (debug build), one new sample \(one.count) bytes")
        #expect(ring.count == 600)
        #expect(one.count < 20_000)
        #expect(full.count < 10_000_000)
    }

    @Test func historyRecordsOnePerSecondFromTheWorkersCounters() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        AdminReadEndpointsTests.recordTraffic(f.control)
        let second = MonotonicClock.now() / 1_000_000_000
        let history = StatsHistory(capacity: 10)
        let t = (second + 1) * 1_000_000_000 + 100_000_000
        history.record(control: f.control, now: t, wallNow: 1_000_000.1)
        history.record(control: f.control, now: t + 500_000_000, wallNow: 1_000_000.6)
        var samples = history.samples(after: 0).samples
        #expect(samples.count == 1, "a second sample in the same second")
        let canary = try #require(samples.first?.routes.first { $0.route == "canary" })
        #expect(samples.first?.time == 1_000_000)
        #expect(canary.state == "steady")
        #expect(canary.targets.map(\.backend) == ["a", "b"])
        #expect(canary.targets.map(\.weight) == [9_000, 1_000])
        #expect(canary.targets[0].requests == 3)
        #expect(canary.targets[0].errors == 1)
        #expect(canary.targets[1].requests == 1)
        #expect(canary.targets[0].p99Ms > 10 && canary.targets[0].p99Ms < 14)
        #expect(canary.shadow == HistoryShadowSample(mirrored: 1, dropped: 1, compared: 1, agreed: 1))
        #expect(samples.first?.routes.first { $0.route == "ab" }?.shadow == nil)

        history.record(control: f.control, now: t + 1_000_000_000, wallNow: 1_000_001.1)
        samples = history.samples(after: 1).samples
        #expect(samples.map(\.seq) == [2])
        let later = try #require(samples.first?.routes.first { $0.route == "canary" })
        #expect(later.targets[0].requests == 0)
        #expect(later.shadow == HistoryShadowSample(mirrored: 0, dropped: 0, compared: 0, agreed: 0))

        // A tick 3 s late records the seconds it missed, one second apart; a week late, the last five.
        history.record(control: f.control, now: t + 4_000_000_000, wallNow: 1_000_004.1)
        samples = history.samples(after: 2).samples
        #expect(samples.map(\.seq) == [3, 4, 5])
        #expect(samples.map(\.time) == [1_000_002, 1_000_003, 1_000_004])
        history.record(control: f.control, now: t + 604_800_000_000_000, wallNow: 1_604_800.1)
        #expect(history.samples(after: 5).samples.count == Int(StatsHistory.maxBackfillSeconds))
    }

    @Test func pageIsServedAtRootWithAPolicyThatKeepsItOnItsOrigin() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let page = try Curl.request("GET", f.base + "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        let csp = page.headers["content-security-policy"] ?? ""
        #expect(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"))
        #expect(page.headers["x-frame-options"] == "DENY")
        #expect(page.body.contains("<title>Sluice dashboard</title>"))
        // Self-contained: no URL to anywhere else.
        #expect(!page.body.contains("http://") || !page.body.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        #expect(!page.body.contains("https://"))
        #expect(!page.body.contains("src=\""))

        #expect(try Curl.request("POST", f.base + "/").status == 405)
        #expect(try Curl.request("GET", f.base + "/", headers: ["Host: attacker.example"]).status == 403)
        #expect(try Curl.request("GET", f.base + "/stats/history", headers: ["Origin: http://attacker.example"]).status == 403)
    }

    @Test func historyEndpointAnswersJSONAndRefusesABadSince() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        f.server.history.record(control: f.control)
        let r = try Curl.request("GET", f.base + "/stats/history")
        #expect(r.status == 200)
        let json = try r.json
        #expect(json["interval_seconds"] as? Int == 1)
        #expect(json["capacity"] as? Int == 600)
        #expect(json["samples"] is [Any])
        let later = try Curl.request("GET", f.base + "/stats/history?since=1000000")
        #expect((try later.json["samples"] as? [Any])?.isEmpty == true)
        let bad = try Curl.request("GET", f.base + "/stats/history?since=-1")
        #expect(bad.status == 400)
        #expect(try bad.json["error"] as? String == "bad_request")
    }

    @Test func statsShowTheRolloutStepAndTheTimeToTheNext() throws {
        let yaml = """
            listeners:
              - name: public
                address: 127.0.0.1:0
            admin:
              address: 127.0.0.1:0
            backends:
              - { name: a, endpoints: [127.0.0.1:1] }
              - { name: b, endpoints: [127.0.0.1:2] }
            routes:
              - name: canary
                match: { path_prefix: / }
                baseline: a
                targets:
                  - { backend: a, weight: 100 }
                  - { backend: b, weight: 0 }
                progressive:
                  target: b
                  steps: [10, 50, 100]
                  interval: 1m
                  gates: [{ at: 50, approval: manual }]
            """
        let f = try AdminFixture(yaml: yaml)
        defer { f.tearDown() }
        let stats = try Curl.request("GET", f.base + "/stats").json
        let route = try #require((stats["routes"] as? [[String: Any]])?.first)
        #expect(route["state"] as? String == "progressing")
        let rollout = try #require(route["rollout"] as? [String: Any])
        #expect(rollout["target"] as? String == "b")
        #expect(rollout["step"] as? Int == 1)
        #expect(rollout["steps"] as? Int == 3)
        #expect(rollout["step_percents"] as? [Double] == [10, 50, 100])
        #expect(rollout["gates"] as? [Double] == [50])
        #expect(rollout["interval_seconds"] as? Double == 60)
        let next = try #require(rollout["next_step_in_seconds"] as? Double)
        #expect(next > 50 && next <= 60)
    }
}
