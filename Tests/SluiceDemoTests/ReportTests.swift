import Testing
import SluiceDemo
import SluiceSupport

@Suite("Stats report and split table")
struct ReportTests {
    let stats = """
    {"uptime_seconds": 12.5, "config_version": 3, "routes": [{"name": "fraud-detector", "state": "rolled_back",
     "baseline": "a", "targets": [
       {"backend": "a", "weight": 100, "requests": 180, "responses": {"2xx": 178, "3xx": 0, "4xx": 0, "5xx": 2}, "errors": 2,
        "window": {"seconds": 60, "requests": 180, "error_rate": 0.0111, "p50_ms": 2.31, "p90_ms": 3, "p99_ms": 4.1}},
       {"backend": "b", "weight": 0, "requests": 20, "responses": {"2xx": 10, "5xx": 10}, "errors": 10,
        "window": {"seconds": 60, "requests": 20, "error_rate": 0.5, "p50_ms": 3.2, "p90_ms": 3.9, "p99_ms": 9.75}}],
     "shadow": {"backend": "c", "mirrored": 10, "dropped": 1, "errors": 0, "p99_ms": 3.2, "compared": 10, "agreed": 9},
     "events": [{"time": "2026-01-01T00:00:00Z", "type": "rolled_back", "target": "b", "reason": "error rate 0.5 > 0.02"}]}]}
    """

    @Test("renders routes, targets, shadow and events")
    func render() throws {
        let text = try #require(StatsReport.render(body: Array(stats.utf8), source: "127.0.0.1:9901"))
        #expect(text.contains("sluice stats from 127.0.0.1:9901 · uptime 13s · config version 3"))
        #expect(text.contains("route fraud-detector  state rolled_back  baseline a  window 60s"))
        #expect(text.contains("  a       100.00%       180  178    2       2    2.31    4.10      1.1%"))
        #expect(text.contains("  b         0.00%        20   10   10      10    3.20    9.75     50.0%"))
        #expect(text.contains("shadow c: mirrored 10 · dropped 1 · errors 0 · p99 3.20 ms · compared 10 · agreed 9 (90.0%)"))
        #expect(text.contains("rolled_back  b  error rate 0.5 > 0.02"))
        #expect(StatsReport.render(body: Array("nope".utf8)) == nil)
    }

    @Test("target counts and weights for the demo")
    func counts() throws {
        let object = try #require(SimpleHTTPResponse(status: 200, headers: [], body: Array(stats.utf8), bodyLength: 0,
                                                     wasChunked: false, reusedConnection: false, elapsedMicros: 0).jsonObject())
        #expect(StatsReport.targetRequests(object, route: "fraud-detector") == ["a": 180, "b": 20])
        #expect(StatsReport.targetWeights(object) == ["a": 100, "b": 0])
        #expect(StatsReport.targetRequests(object, route: "other").isEmpty)
    }

    @Test("split tally table")
    func tally() {
        var t = SplitTally()
        for i in 0..<10 { t.record(target: i < 9 ? "a" : "b", status: 200, elapsedMicros: 2_000) }
        t.recordFailure("connection refused")
        let text = t.render(configured: [("a", 90), ("b", 10)], admin: ["a": 9, "b": 1])
        #expect(t.responses == 10 && t.failed == 1)
        let rows = text.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.contains("a 9 90.0% 90.0% 2.00 9"))
        #expect(rows.contains("b 1 10.0% 10.0% 2.00 1"))
        #expect(text.contains("statuses: 200: 10"))
        #expect(text.contains("1 × connection refused"))
    }

    @Test("number formatting")
    func numbers() {
        #expect(NumberFormat.fixed(2.345, 2) == "2.35" || NumberFormat.fixed(2.345, 2) == "2.34")
        #expect(NumberFormat.fixed(-0.5, 1) == "-0.5")
        #expect(NumberFormat.fixed(3, 0) == "3")
        #expect(NumberFormat.compact(90) == "90")
        #expect(NumberFormat.compact(33.333) == "33.33")
        #expect(NumberFormat.percent(9.54) == "9.5%")
    }
}
