import SluiceStats
import Testing
@testable import SluiceSimulate

/// The per-target ring answers every range exactly like adding the seconds up one by one.
struct SecondRingTests {
    @Test func everyRangeMatchesANaiveSum() throws {
        let latency = AliasTable(weights: try LatencyDistribution.parse("lognormal:2ms,1").bucketProbabilities())
        var ring = TargetSecondRing(windowSeconds: 10, capacitySeconds: 40)
        var rng = SimulationRandom(seed: 3)
        let first = 500
        ring.reset(firstSecond: first)
        // Naive copy: per second, requests, errors and histogram.
        var seconds: [(requests: Int, errors: Int, histogram: [UInt64])] = []
        for k in 0..<120 {
            // Bursty traffic so that the arena has to grow.
            let n = k % 17 == 0 ? 900 + k : rng.nextIndex(below: 60)
            let e = rng.nextIndex(below: n + 1)
            var probe = rng
            ring.record(second: first + k, requests: n, errors: e, latency: latency, rng: &rng)
            var h = [UInt64](repeating: 0, count: LatencyBuckets.count)
            for _ in 0..<n { h[latency.sample(&probe)] += 1 }
            seconds.append((n, e, h))
            // Ranges ending at or before the next second, of up to 30 seconds, within what is kept: the
            // running window, shorter and longer ones, increments.
            for end in max(first - 2, first + k - 12)...(first + k + 1) {
                for length in [1, 2, 3, 4, 5, 6, 9, 10, 11, 17, 29, 30] where end - length + 1 > first + k - 40 {
                    let got = ring.figures(endSecond: end, seconds: length)
                    var want = (requests: 0, errors: 0, histogram: [UInt64](repeating: 0, count: LatencyBuckets.count))
                    let lo = max(end - length + 1, first), hi = min(end, first + k)
                    for s in stride(from: lo, through: hi, by: 1) {
                        let x = seconds[s - first]
                        want.requests += x.requests
                        want.errors += x.errors
                        for i in x.histogram.indices { want.histogram[i] += x.histogram[i] }
                    }
                    #expect(got.requests == want.requests && got.errors == want.errors && got.histogram == want.histogram,
                            "second \(first + k): range ending \(end), \(length)s")
                    if got.histogram != want.histogram { return }
                }
            }
        }
    }
}
