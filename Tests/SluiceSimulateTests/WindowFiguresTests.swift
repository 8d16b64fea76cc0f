import SluiceRouting
import SluiceStats
import Testing
@testable import SluiceSimulate

/// The simulator's window figures equal the proxy's for the same counts.
struct WindowFiguresBuilderTests {
    @Test func figuresMatchTheProxysInitializer() throws {
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
            let errors = UInt64(rng.nextIndex(below: n + 1))
            let want = RolloutWindowFigures(requests: UInt64(n), errors: errors, latencyHistogram: h)
            let got = WindowFiguresBuilder.make(requests: UInt64(n), errors: errors, histogram: h)
            #expect(got == want, "trial \(trial), \(n) requests")
        }
    }
}
