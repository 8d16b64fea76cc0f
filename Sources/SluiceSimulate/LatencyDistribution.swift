import Glibc
import SluiceStats

/// A continuous latency distribution of a simulated backend, in microseconds, as written on the command
/// line (`lognormal:20ms,0.5`).
///
/// The simulator never draws a latency value: it draws a ``LatencyBuckets`` bucket with the probability
/// that the proxy would have recorded a latency there (``bucketProbabilities()``), which is what the
/// rollout rules see.
public enum LatencyDistribution: Sendable, Hashable, CustomStringConvertible {
    /// Log-normal with median `m` (= e^μ) and shape `σ`: `P(X < x) = Φ((ln x − ln m) / σ)`.
    /// p99 = m·e^(2.326σ): σ = 0.5 puts p99 at 3.2 × the median.
    case lognormal(medianMicros: Double, sigma: Double)
    /// Every request takes exactly this long.
    case constant(micros: Double)
    /// Exponential with this mean: `P(X < x) = 1 − e^(−x/mean)`.
    case exponential(meanMicros: Double)
    /// Pareto (type I), a heavy tail: `P(X < x) = 1 − (scale/x)^shape` for x ≥ scale. The mean is
    /// infinite for shape ≤ 1, the variance for shape ≤ 2.
    case pareto(scaleMicros: Double, shape: Double)
    /// Uniform between two latencies.
    case uniform(minMicros: Double, maxMicros: Double)

    /// Parses `KIND:ARGS`: `lognormal:MEDIAN,SIGMA`, `constant:X`, `exponential:MEAN`,
    /// `pareto:SCALE,SHAPE`, `uniform:MIN,MAX`, with times such as `20ms`, `2.5ms`, `800us`, `1s`.
    /// Throws ``SimulationSetupError`` with the reason.
    public static func parse(_ text: String) throws(SimulationSetupError) -> LatencyDistribution {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw .init("latency `\(text)`: \(expected)") }
        let args = parts[1].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        func time(_ i: Int) throws(SimulationSetupError) -> Double {
            guard let v = LatencyText.micros(args[i]), v >= 0 else {
                throw .init("latency `\(text)`: `\(args[i])` is not a time (e.g. 20ms, 2.5ms, 800us, 1s)")
            }
            return v
        }
        func number(_ i: Int) throws(SimulationSetupError) -> Double {
            guard let v = Double(args[i]), v.isFinite, v > 0 else {
                throw .init("latency `\(text)`: `\(args[i])` must be a positive number")
            }
            return v
        }
        let kind = parts[0].lowercased()
        let arity = ["lognormal": 2, "constant": 1, "exponential": 1, "pareto": 2, "uniform": 2][kind]
        guard let arity else { throw .init("latency `\(text)`: unknown kind `\(parts[0])`; \(expected)") }
        guard args.count == arity else {
            throw .init("latency `\(text)`: \(kind) takes \(arity) argument\(arity == 1 ? "" : "s"); \(expected)")
        }
        switch kind {
        case "lognormal":
            let m = try time(0)
            guard m > 0 else { throw .init("latency `\(text)`: the median must be above 0") }
            return .lognormal(medianMicros: m, sigma: try number(1))
        case "constant":
            return .constant(micros: try time(0))
        case "exponential":
            let mean = try time(0)
            guard mean > 0 else { throw .init("latency `\(text)`: the mean must be above 0") }
            return .exponential(meanMicros: mean)
        case "pareto":
            let scale = try time(0)
            guard scale > 0 else { throw .init("latency `\(text)`: the scale must be above 0") }
            return .pareto(scaleMicros: scale, shape: try number(1))
        default:
            let lo = try time(0), hi = try time(1)
            guard hi >= lo else { throw .init("latency `\(text)`: the maximum is below the minimum") }
            return .uniform(minMicros: lo, maxMicros: hi)
        }
    }

    /// What a latency distribution looks like, for error messages.
    public static let expected = "expected lognormal:MEDIAN,SIGMA, constant:X, exponential:MEAN, pareto:SCALE,SHAPE or uniform:MIN,MAX (e.g. lognormal:20ms,0.5)"

    /// `P(X < x)` for a latency `x` in microseconds.
    public func probabilityBelow(micros x: Double) -> Double {
        switch self {
        case .lognormal(let m, let sigma):
            guard x > 0 else { return 0 }
            return 0.5 * erfc(-(log(x) - log(m)) / (sigma * 2.0.squareRoot()))
        case .constant(let c):
            return x > c ? 1 : 0
        case .exponential(let mean):
            return x > 0 ? -expm1(-x / mean) : 0
        case .pareto(let scale, let shape):
            return x > scale ? 1 - pow(scale / x, shape) : 0
        case .uniform(let lo, let hi):
            if hi <= lo { return x > lo ? 1 : 0 }
            return min(max((x - lo) / (hi - lo), 0), 1)
        }
    }

    /// The probability of each ``LatencyBuckets`` bucket (`LatencyBuckets.count` entries, summing to 1).
    ///
    /// The proxy records a latency as whole microseconds, truncated, so bucket `i` holds the latencies
    /// `lower_i ≤ X < upper_i + 1`; its probability is `P(X < upper_i + 1) − P(X < lower_i)`, and the
    /// last bucket also takes everything beyond it, as the proxy clamps there.
    public func bucketProbabilities() -> [Double] {
        let n = LatencyBuckets.count
        var below = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { below[i] = probabilityBelow(micros: Double(LatencyBuckets.lowerBoundMicros(i))) }
        below[n] = 1
        var p = [Double](repeating: 0, count: n)
        for i in 0..<n { p[i] = max(below[i + 1] - below[i], 0) }
        return p
    }

    /// The text it was parsed from, normalised: `lognormal:20ms,0.5`.
    public var description: String {
        switch self {
        case .lognormal(let m, let sigma): return "lognormal:\(LatencyText.format(micros: m)),\(LatencyText.number(sigma))"
        case .constant(let c): return "constant:\(LatencyText.format(micros: c))"
        case .exponential(let mean): return "exponential:\(LatencyText.format(micros: mean))"
        case .pareto(let scale, let shape): return "pareto:\(LatencyText.format(micros: scale)),\(LatencyText.number(shape))"
        case .uniform(let lo, let hi): return "uniform:\(LatencyText.format(micros: lo)),\(LatencyText.format(micros: hi))"
        }
    }
}
