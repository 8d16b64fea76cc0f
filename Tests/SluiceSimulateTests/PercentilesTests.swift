import SluiceRouting
import SluiceStats
import Testing
@testable import SluiceSimulate

/// The one-walk percentiles that window figures use equal the one-at-a-time ones, on histograms drawn
/// from a heavy-tailed model with the simulator's sampler (and a few degenerate ones).
struct PercentilesTests {
    @Test func oneWalkMatchesOneAtATime() throws {
        var rng = SimulationRandom(seed: 8)
        let latency = AliasTable(weights: try LatencyDistribution.parse("pareto:3ms,1.2").bucketProbabilities())
        for trial in 0..<400 {
            var h = [UInt64](repeating: 0, count: LatencyBuckets.count)
            let n = trial < 5 ? trial : rng.nextIndex(below: trial % 7 == 0 ? 5000 : 300)
            if trial % 11 == 0 && n > 0 {
                h[rng.nextIndex(below: h.count)] = UInt64(n)     // one bucket
            } else {
                for _ in 0..<n { h[latency.sample(&rng)] += 1 }
            }
            let qs = [0.5, 0.9, 0.99, 0.999]
            let want = qs.map { LatencyBuckets.percentileMicros(h, quantile: $0) }
            #expect(LatencyBuckets.percentilesMicros(h, ascending: qs) == want, "trial \(trial), \(n) requests")
            let figures = RolloutWindowFigures(requests: UInt64(n), errors: 0, latencyHistogram: h)
            #expect(figures.p50Micros == UInt64(want[0].rounded()) && figures.p99Micros == UInt64(want[2].rounded()))
        }
    }
}
