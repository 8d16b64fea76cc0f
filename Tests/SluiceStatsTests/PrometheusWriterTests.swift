import Testing
@testable import SluiceStats

@Suite("PrometheusWriter")
struct PrometheusWriterTests {
    @Test func countersAndGauges() {
        var w = PrometheusWriter()
        w.family(name: "sluice_requests_total", help: "Requests by target.", type: .counter)
        w.sample(name: "sluice_requests_total", labels: [("route", "chat"), ("target", "v2")], value: UInt64(42))
        w.sample(name: "sluice_requests_total", labels: [("route", "chat"), ("target", "v1")], value: UInt64(0))
        w.family(name: "sluice_weight", help: "Weight of a target.", type: .gauge)
        w.sample(name: "sluice_weight", labels: [("target", "v2")], value: 0.25)
        w.sample(name: "sluice_weight", value: 1.0)
        w.sample(name: "sluice_open", value: -3)
        #expect(w.text == """
            # HELP sluice_requests_total Requests by target.
            # TYPE sluice_requests_total counter
            sluice_requests_total{route="chat",target="v2"} 42
            sluice_requests_total{route="chat",target="v1"} 0
            # HELP sluice_weight Weight of a target.
            # TYPE sluice_weight gauge
            sluice_weight{target="v2"} 0.25
            sluice_weight 1
            sluice_open -3

            """)
        #expect(w.bytes == Array(w.text.utf8))
    }

    @Test func histogramExactLines() {
        let stats = TargetStats(workers: 2, windowSeconds: 10)
        stats.recordResponse(worker: 0, nowSecond: 1, status: 200, isError: false, latencyMicros: 500)
        stats.recordResponse(worker: 1, nowSecond: 1, status: 200, isError: false, latencyMicros: 3_000)
        stats.recordResponse(worker: 0, nowSecond: 2, status: 200, isError: false, latencyMicros: 2_000_000)
        stats.recordResponse(worker: 1, nowSecond: 3, status: 504, isError: true, latencyMicros: 20_000_000)
        var w = PrometheusWriter()
        w.family(name: "sluice_latency_seconds", help: "Upstream latency.", type: .histogram)
        w.histogram(name: "sluice_latency_seconds", labels: [("route", "r")], snapshot: stats.snapshot(nowSecond: 3))
        let b = "sluice_latency_seconds_bucket{route=\"r\",le="
        #expect(w.text == """
            # HELP sluice_latency_seconds Upstream latency.
            # TYPE sluice_latency_seconds histogram
            \(b)"0.001"} 1
            \(b)"0.0025"} 1
            \(b)"0.005"} 2
            \(b)"0.01"} 2
            \(b)"0.025"} 2
            \(b)"0.05"} 2
            \(b)"0.1"} 2
            \(b)"0.25"} 2
            \(b)"0.5"} 2
            \(b)"1"} 2
            \(b)"2.5"} 3
            \(b)"5"} 3
            \(b)"10"} 3
            \(b)"+Inf"} 4
            sluice_latency_seconds_sum{route="r"} 22.0035
            sluice_latency_seconds_count{route="r"} 4

            """)
    }

    @Test func histogramBucketsMonotonicAndInfEqualsCount() {
        let stats = TargetStats(workers: 1, windowSeconds: 5)
        var rng = LCG(state: 3)
        for _ in 0..<5_000 {
            stats.recordResponse(worker: 0, nowSecond: 1, status: 200, isError: false,
                                 latencyMicros: rng.next() % 200_000_000)
        }
        var w = PrometheusWriter()
        w.histogram(name: "h", snapshot: stats.snapshot(nowSecond: 1))
        let lines = w.text.split(separator: "\n")
        let buckets = lines.filter { $0.hasPrefix("h_bucket") }.map { UInt64($0.split(separator: " ").last!)! }
        #expect(buckets.count == PrometheusWriter.latencyBucketBoundsSeconds.count + 1)
        for k in 1..<buckets.count { #expect(buckets[k - 1] <= buckets[k]) }
        let count = lines.first { $0.hasPrefix("h_count ") }.map { UInt64($0.split(separator: " ").last!)! }
        #expect(count == 5_000)
        #expect(buckets.last == count)
        #expect(lines.contains { $0.hasPrefix("h_bucket{le=\"+Inf\"} ") })
    }

    @Test func labelAndHelpEscaping() {
        #expect(PrometheusWriter.escapeLabelValue(#"a\b"c"# + "\nd") == #"a\\b\"c\nd"#)
        #expect(PrometheusWriter.escapeHelp(#"x\y"# + "\n\"z\"") == #"x\\y\n"z""#)
        var w = PrometheusWriter()
        w.family(name: "m", help: "line1\nline2", type: .untyped)
        w.sample(name: "m", labels: [("path", "/v1/\"chat\"\\n\n")], value: UInt64(1))
        #expect(w.text == "# HELP m line1\\nline2\n# TYPE m untyped\nm{path=\"/v1/\\\"chat\\\"\\\\n\\n\"} 1\n")
    }

    @Test func valueFormatting() {
        #expect(PrometheusWriter.formatValue(1) == "1")
        #expect(PrometheusWriter.formatValue(0.0025) == "0.0025")
        #expect(PrometheusWriter.formatValue(-2) == "-2")
        #expect(PrometheusWriter.formatValue(.infinity) == "+Inf")
        #expect(PrometheusWriter.formatValue(-.infinity) == "-Inf")
        #expect(PrometheusWriter.formatValue(.nan) == "NaN")
        #expect(PrometheusWriter.formatValue(1e-7) == "1e-07")
    }
}
