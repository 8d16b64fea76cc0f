import Foundation
import Testing
@testable import SluiceStats

/// Deterministic pseudo-random numbers (64-bit LCG) so sample sets are reproducible.
struct LCG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
    mutating func unit() -> Double { Double(next()) / Double(UInt64(1) << 53) }
}

@Suite("TargetStats")
struct TargetStatsTests {
    static let quantiles = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999]

    /// Records `samples` round-robin over 2 workers and 5 seconds, then compares window and all-time
    /// percentiles with exact ones (rank ceil(q*n)).
    func checkPercentiles(_ samples: [UInt64]) {
        let stats = TargetStats(workers: 2, windowSeconds: 60)
        for (k, micros) in samples.enumerated() {
            stats.recordResponse(worker: k % 2, nowSecond: 1000 + UInt64(k % 5), status: 200, isError: false,
                                 latencyMicros: micros)
        }
        let sorted = samples.sorted()
        let snap = stats.snapshot(nowSecond: 1004, windowSeconds: 60)
        #expect(snap.window.requests == UInt64(samples.count))
        #expect(snap.latencyCount == UInt64(samples.count))
        for q in Self.quantiles {
            let rank = max(1, Int((q * Double(sorted.count)).rounded(.up)))
            let exactMs = Double(sorted[rank - 1]) / 1000
            let windowMs = snap.window.percentileMs(q)
            let allTimeMs = snap.percentileMs(q)
            #expect(abs(windowMs - exactMs) <= exactMs * 0.01, "q=\(q) exact=\(exactMs) got=\(windowMs)")
            #expect(allTimeMs == windowMs)
        }
        #expect(snap.window.p50Ms == snap.window.percentileMs(0.5))
        #expect(snap.window.p90Ms == snap.window.percentileMs(0.9))
        #expect(snap.window.p99Ms == snap.window.percentileMs(0.99))
    }

    @Test func percentilesUniform() {
        checkPercentiles(Array(1...100_000))
    }

    @Test func percentilesExponential() {
        var rng = LCG(state: 42)
        let samples = (0..<50_000).map { _ in UInt64(-log(1 - rng.unit()) * 5_000) + 1 }
        checkPercentiles(samples)
    }

    @Test func percentilesBimodal() {
        var rng = LCG(state: 7)
        let samples = (0..<40_000).map { k -> UInt64 in
            k % 3 == 0 ? 50_000 + rng.next() % 30_000 : 200 + rng.next() % 200
        }
        checkPercentiles(samples)
    }

    @Test func windowExpiry() {
        let stats = TargetStats(workers: 2, windowSeconds: 10)
        for _ in 0..<5 {
            stats.recordResponse(worker: 0, nowSecond: 100, status: 500, isError: true, latencyMicros: 50_000)
        }
        for _ in 0..<3 {
            stats.recordResponse(worker: 1, nowSecond: 105, status: 200, isError: false, latencyMicros: 2_000)
        }
        let both = stats.windowSnapshot(nowSecond: 109, windowSeconds: 10)
        #expect(both.requests == 8)
        #expect(both.errors == 5)
        #expect(both.errorRate == 5.0 / 8.0)

        let later = stats.windowSnapshot(nowSecond: 110, windowSeconds: 10)   // window (100, 110]
        #expect(later.requests == 3)
        #expect(later.errors == 0)
        #expect(later.errorRate == 0)
        #expect(abs(later.p99Ms - 2.0) <= 0.02)

        let short = stats.windowSnapshot(nowSecond: 109, windowSeconds: 3)    // window (106, 109]
        #expect(short.requests == 0)
        #expect(short.p99Ms == 0)

        #expect(stats.windowSnapshot(nowSecond: 200, windowSeconds: 10).requests == 0)
        // All-time counters keep everything.
        let all = stats.snapshot(nowSecond: 200)
        #expect(all.responses == 8)
        #expect(all.errors == 5)
        #expect(all.window.requests == 0)
    }

    @Test func bucketReusedAfterWrapIsZeroed() {
        let stats = TargetStats(workers: 1, windowSeconds: 10)     // ring of 11 buckets
        for _ in 0..<5 {
            stats.recordResponse(worker: 0, nowSecond: 100, status: 503, isError: true, latencyMicros: 90_000)
        }
        // Second 111 maps to the same bucket as second 100.
        stats.recordResponse(worker: 0, nowSecond: 111, status: 200, isError: false, latencyMicros: 1_000)
        let w = stats.windowSnapshot(nowSecond: 111, windowSeconds: 1)
        #expect(w.requests == 1)
        #expect(w.errors == 0)
        #expect(w.latencyCount == 1)
        #expect(abs(w.p99Ms - 1.0) <= 0.01)
        #expect(stats.windowSnapshot(nowSecond: 111, windowSeconds: 10).requests == 1)
    }

    @Test func windowArgumentsAreClamped() {
        let stats = TargetStats(workers: 1, windowSeconds: 5_000)
        #expect(stats.windowCapacitySeconds == TargetStats.maxWindowSeconds)
        stats.recordResponse(worker: 0, nowSecond: 0, status: 200, isError: false, latencyMicros: 10)
        #expect(stats.windowSnapshot(nowSecond: 0, windowSeconds: 0).seconds == 1)
        #expect(stats.windowSnapshot(nowSecond: 0, windowSeconds: 0).requests == 1)
        #expect(stats.windowSnapshot(nowSecond: 599, windowSeconds: 10_000).requests == 1)
        #expect(stats.windowSnapshot(nowSecond: 600, windowSeconds: 10_000).requests == 0)
    }

    @Test func countersByStatusClass() {
        let stats = TargetStats(workers: 2, windowSeconds: 30)
        for _ in 0..<12 { stats.recordAssignment(worker: 1) }
        let cases: [(Int, Bool)] = [(200, false), (204, false), (301, false), (404, false), (429, false),
                                    (500, true), (503, true), (0, true), (101, false), (200, true)]
        for (k, (status, isError)) in cases.enumerated() {
            stats.recordResponse(worker: k % 2, nowSecond: 7, status: status, isError: isError,
                                 latencyMicros: UInt64(100 * (k + 1)))
        }
        let s = stats.snapshot(nowSecond: 7, windowSeconds: 30)
        #expect(s.requests == 12)
        #expect(s.responses2xx == 3)
        #expect(s.responses3xx == 1)
        #expect(s.responses4xx == 2)
        #expect(s.responses5xx == 2)
        #expect(s.responsesOther == 2)
        #expect(s.responses == 10)
        #expect(s.errors == 4)
        #expect(s.latencySumMicros == 5_500)
        #expect(s.latencyCount == 10)
        #expect(abs(s.meanLatencyMs - 0.55) < 1e-9)
        #expect(s.window.requests == 10)
        #expect(s.window.errors == 4)
        #expect(s.window.errorRate == 0.4)
    }

    @Test func cumulativeCountsAreMonotonic() {
        let stats = TargetStats(workers: 1, windowSeconds: 5)
        var rng = LCG(state: 99)
        for _ in 0..<10_000 {
            stats.recordResponse(worker: 0, nowSecond: 1, status: 200, isError: false,
                                 latencyMicros: rng.next() % 20_000_000)
        }
        let s = stats.snapshot(nowSecond: 1)
        let counts = s.cumulativeCounts(atMostSeconds: PrometheusWriter.latencyBucketBoundsSeconds + [.infinity])
        for k in 1..<counts.count { #expect(counts[k - 1] <= counts[k]) }
        #expect(counts.last == s.latencyCount)
        for (bound, count) in zip(PrometheusWriter.latencyBucketBoundsSeconds, counts) {
            #expect(count == s.cumulativeCount(atMostMicros: UInt64((bound * 1_000_000).rounded())))
        }
    }
}
