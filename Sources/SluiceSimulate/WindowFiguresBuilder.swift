import SluiceRouting
import SluiceStats

/// Builds the ``RolloutWindowFigures`` the rule engine reads, equal to the proxy's
/// `RolloutWindowFigures(requests:errors:latencyHistogram:)` but cheaper: the proxy's initializer walks
/// the 1408-bucket histogram three times (a total, then p99, then p50), which makes up a third of a
/// simulation's time. Here the total is already known (the requests recorded) and both percentiles come
/// from one walk that stops at the p99 rank, with the same rule as ``LatencyBuckets/percentileMicros(_:quantile:)``:
/// the representative value of the bucket holding the sample of rank `ceil(q·n)` (at least 1), rounded
/// to whole microseconds. `SluiceSimulateTests` checks the two agree on many histograms.
enum WindowFiguresBuilder {
    /// Figures of `requests` requests (every one with its latency in `histogram`) and `errors` errors.
    static func make(requests: UInt64, errors: UInt64, histogram: [UInt64]) -> RolloutWindowFigures {
        var figures = RolloutWindowFigures(requests: requests, errors: errors, p99Micros: 0, p50Micros: 0)
        figures.latencyHistogram = histogram
        guard requests > 0 else { return figures }
        let r50 = rank(0.5, of: requests)
        let r99 = rank(0.99, of: requests)
        var p50: Double?
        var p99 = LatencyBuckets.representativeMicros(histogram.count - 1)
        histogram.withUnsafeBufferPointer { h in
            var seen: UInt64 = 0
            for i in 0..<h.count where h[i] > 0 {
                seen &+= h[i]
                if p50 == nil && seen >= r50 { p50 = LatencyBuckets.representativeMicros(i) }
                if seen >= r99 {
                    p99 = LatencyBuckets.representativeMicros(i)
                    break
                }
            }
        }
        figures.p99Micros = UInt64(p99.rounded())
        figures.p50Micros = UInt64((p50 ?? p99).rounded())
        return figures
    }

    /// `ceil(q·n)`, clamped to `1 ... n`.
    @inline(__always)
    private static func rank(_ q: Double, of n: UInt64) -> UInt64 {
        min(max(UInt64((q * Double(n)).rounded(.up)), 1), n)
    }
}
