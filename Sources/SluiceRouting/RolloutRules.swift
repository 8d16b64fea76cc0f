import SluiceStats

/// One target's figures over a stretch of seconds, as the rollback evaluation sees them.
public struct RolloutWindowFigures: Sendable, Hashable {
    /// Finished exchanges in the window.
    public var requests: UInt64
    /// Of those, exchanges counted as errors (5xx, gRPC status != 0, timeouts, connect failures).
    public var errors: UInt64
    /// 99th percentile latency in the window, in microseconds (0 when the window is empty).
    public var p99Micros: UInt64
    /// Median latency in the window, in microseconds (0 when empty or unknown).
    public var p50Micros: UInt64
    /// Latencies in the window, `LatencyBuckets` layout; empty when only the percentiles are known.
    public var latencyHistogram: [UInt64]

    /// Creates window figures from percentiles alone (no histogram: the sequential latency test sees nothing).
    public init(requests: UInt64, errors: UInt64, p99Micros: UInt64, p50Micros: UInt64 = 0) {
        self.requests = requests
        self.errors = errors
        self.p99Micros = p99Micros
        self.p50Micros = p50Micros
        self.latencyHistogram = []
    }

    /// Creates window figures from a latency histogram in `LatencyBuckets` layout.
    public init(requests: UInt64, errors: UInt64, latencyHistogram: [UInt64]) {
        self.requests = requests
        self.errors = errors
        self.latencyHistogram = latencyHistogram
        let p = LatencyBuckets.percentilesMicros(latencyHistogram, ascending: [0.5, 0.99])
        self.p50Micros = UInt64(p[0].rounded())
        self.p99Micros = UInt64(p[1].rounded())
    }

    /// `errors / requests`, or 0 when there were no requests.
    public var errorRate: Double {
        requests == 0 ? 0 : Double(errors) / Double(requests)
    }

    /// Number of latencies in the histogram.
    public var latencyCount: UInt64 {
        var n: UInt64 = 0
        for c in latencyHistogram { n &+= c }
        return n
    }

    /// Latencies strictly above `micros` (whole buckets above the one holding `micros`).
    public func count(slowerThan micros: UInt64) -> UInt64 {
        guard !latencyHistogram.isEmpty else { return 0 }
        var n: UInt64 = 0
        var i = LatencyBuckets.bucketsAtOrBelow(micros: micros)
        while i < latencyHistogram.count {
            n &+= latencyHistogram[i]
            i += 1
        }
        return n
    }

    /// The inclusive upper bound (µs) of the bucket holding quantile `q`: a latency threshold that
    /// about `1 − q` of these latencies exceed. 0 when the histogram is empty.
    public func quantileBoundMicros(_ q: Double) -> UInt64 {
        let total = latencyCount
        guard total > 0 else { return 0 }
        let rank = min(max(UInt64((q * Double(total)).rounded(.up)), 1), total)
        var seen: UInt64 = 0
        for (i, c) in latencyHistogram.enumerated() where c > 0 {
            seen &+= c
            if seen >= rank { return UInt64(LatencyBuckets.upperBoundMicros(i)) }
        }
        return UInt64(LatencyBuckets.upperBoundMicros(latencyHistogram.count - 1))
    }
}

/// The outcome of judging one candidate's window.
public enum RolloutVerdict: Sendable, Hashable {
    /// Fewer than `min_requests` in the candidate's window, or no threshold could be applied
    /// (only relative thresholds are configured and the baseline has fewer than `min_requests`):
    /// the breach counter is left as it is.
    case noVerdict
    /// Every applicable threshold held: the breach counter resets to 0.
    case healthy
    /// At least one threshold was breached; the text describes it, e.g. `p99 412ms > 250ms`.
    case breach(String)
}

/// The rollback rules, as pure functions of a window's figures.
///
/// Given the candidate's window `C` and the baseline's window `B` (same route, same window):
///
/// 1. `C.requests < min_requests` → no verdict.
/// 2. The baseline is *usable* for relative checks when `B.requests >= min_requests`.
/// 3. **Latency breach** when every applicable latency check holds and at least one applies:
///    - `max_p99_latency` set: `C.p99 > max_p99_latency` (equal is not a breach);
///    - `relative_to_baseline.p99_ratio` set and the baseline usable: `C.p99 > p99_ratio × B.p99`.
/// 4. **Error breach** when every applicable error check holds and at least one applies:
///    - `max_error_rate` set: `C.errorRate > max_error_rate` (equal is not a breach);
///    - `relative_to_baseline.error_rate_delta` set and the baseline usable:
///      `C.errorRate − B.errorRate > error_rate_delta` **and** the one-sided two-proportion
///      z-test is significant at 95 % (``isErrorIncreaseSignificant(candidateErrors:candidateRequests:baselineErrors:baselineRequests:)``).
/// 5. A latency or an error breach makes the evaluation a breach; if no check applies at all
///    (only relative thresholds and an unusable baseline) there is no verdict; otherwise healthy.
public enum RolloutRules {
    /// One-sided 95 % critical value of the standard normal distribution.
    public static let zCritical: Double = 1.645

    /// The pooled two-proportion z statistic of the candidate's error rate against the baseline's:
    ///
    ///     p1 = x1 / n1                 (candidate errors / candidate requests)
    ///     p2 = x2 / n2                 (baseline errors / baseline requests)
    ///     p  = (x1 + x2) / (n1 + n2)   (pooled proportion)
    ///     z  = (p1 − p2) / sqrt(p · (1 − p) · (1/n1 + 1/n2))
    ///
    /// `nil` when it is undefined: either side has no requests, or `p` is 0 or 1 (no variance).
    public static func zScore(
        candidateErrors x1: UInt64, candidateRequests n1: UInt64,
        baselineErrors x2: UInt64, baselineRequests n2: UInt64
    ) -> Double? {
        guard n1 > 0, n2 > 0 else { return nil }
        let dn1 = Double(n1), dn2 = Double(n2)
        let p1 = Double(x1) / dn1
        let p2 = Double(x2) / dn2
        let p = (Double(x1) + Double(x2)) / (dn1 + dn2)
        let variance = p * (1 - p) * (1 / dn1 + 1 / dn2)
        guard variance > 0 else { return nil }
        return (p1 - p2) / variance.squareRoot()
    }

    /// Whether the candidate's error rate is significantly higher than the baseline's:
    /// ``zScore(candidateErrors:candidateRequests:baselineErrors:baselineRequests:)`` `> 1.645`
    /// (one-sided, 95 %). An undefined z is not significant.
    public static func isErrorIncreaseSignificant(
        candidateErrors x1: UInt64, candidateRequests n1: UInt64,
        baselineErrors x2: UInt64, baselineRequests n2: UInt64
    ) -> Bool {
        guard let z = zScore(candidateErrors: x1, candidateRequests: n1, baselineErrors: x2, baselineRequests: n2) else {
            return false
        }
        return z > zCritical
    }

    /// Judges one candidate's window against `spec` (see the type's documentation for the rules).
    /// `baseline` is the baseline target's window over the same period, if known.
    public static func judge(
        candidate c: RolloutWindowFigures, baseline b: RolloutWindowFigures?, spec: RollbackSpec
    ) -> RolloutVerdict {
        judgement(candidate: c, baseline: b, spec: spec).verdict
    }

    /// ``judge(candidate:baseline:spec:)`` with every check's statistic and threshold. With
    /// `relative_to_baseline.method: sequential` the relative rules are not window rules and are left out
    /// here (``RolloutStateMachine`` runs them); the baseline then only needs to be usable for the
    /// evaluation to count as a verdict.
    public static func judgement(
        candidate c: RolloutWindowFigures, baseline b: RolloutWindowFigures?, spec: RollbackSpec
    ) -> (verdict: RolloutVerdict, checks: [RolloutCheck]) {
        let minRequests = UInt64(max(spec.minRequests, 0))
        guard c.requests >= minRequests else { return (.noVerdict, []) }
        let usable: RolloutWindowFigures? = b.flatMap { $0.requests >= minRequests ? $0 : nil }
        let windowRelative = spec.relativeToBaseline.flatMap { $0.method == .zTest ? $0 : nil }
        var checks: [RolloutCheck] = []
        var applied = false
        var breaches: [String] = []

        // Latency.
        var latency: [RolloutCheck] = []
        if let limit = spec.maxP99Micros {
            latency.append(RolloutCheck(
                name: "max_p99_latency", value: Double(c.p99Micros) / 1000, threshold: Double(limit) / 1000,
                breached: c.p99Micros > limit, detail: RolloutFormat.millis(micros: limit)))
        }
        if let ratio = windowRelative?.p99Ratio, let base = usable {
            let limit = ratio * Double(base.p99Micros)
            latency.append(RolloutCheck(
                name: "p99_ratio", value: Double(c.p99Micros) / 1000, threshold: limit / 1000,
                breached: Double(c.p99Micros) > limit,
                detail: "\(RolloutFormat.decimal(ratio, maxFractionDigits: 3))x baseline p99 \(RolloutFormat.millis(micros: base.p99Micros))"))
        }
        if !latency.isEmpty {
            applied = true
            if latency.allSatisfy(\.breached) {
                breaches.append("p99 \(RolloutFormat.millis(micros: c.p99Micros)) > " + latency.map(\.detail).joined(separator: " and > "))
            }
            checks += latency
        }

        // Errors.
        var errors: [RolloutCheck] = []
        if let limit = spec.maxErrorRate {
            errors.append(RolloutCheck(
                name: "max_error_rate", value: c.errorRate, threshold: limit, breached: c.errorRate > limit,
                detail: RolloutFormat.decimal(limit, maxFractionDigits: 4)))
        }
        if let delta = windowRelative?.errorRateDelta, let base = usable {
            let z = zScore(candidateErrors: c.errors, candidateRequests: c.requests,
                           baselineErrors: base.errors, baselineRequests: base.requests)
            let breached = c.errorRate - base.errorRate > delta && (z.map { $0 > zCritical } ?? false)
            let zText = z.map { RolloutFormat.decimal($0, maxFractionDigits: 2) } ?? "undefined"
            errors.append(RolloutCheck(
                name: "error_rate_delta", value: c.errorRate, threshold: base.errorRate + delta, breached: breached,
                detail: "baseline \(RolloutFormat.decimal(base.errorRate, maxFractionDigits: 3)) + \(RolloutFormat.decimal(delta, maxFractionDigits: 4)) (z = \(zText))"))
        }
        if !errors.isEmpty {
            applied = true
            if errors.allSatisfy(\.breached) {
                breaches.append("error rate \(RolloutFormat.decimal(c.errorRate, maxFractionDigits: 3)) > " + errors.map(\.detail).joined(separator: " and > "))
            }
            checks += errors
        }
        if spec.relativeToBaseline?.method == .sequential && usable != nil { applied = true }

        if !breaches.isEmpty { return (.breach(breaches.joined(separator: " and ")), checks) }
        return (applied ? .healthy : .noVerdict, checks)
    }
}

/// Number formatting for reasons and logs (no Foundation).
enum RolloutFormat {
    /// `x` rounded to at most `maxFractionDigits` decimals, trailing zeros removed: `0.153`, `0.02`, `412`.
    static func decimal(_ x: Double, maxFractionDigits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale: UInt64 = 1
        for _ in 0..<max(0, min(maxFractionDigits, 9)) { scale *= 10 }
        let magnitude = (abs(x) * Double(scale)).rounded()
        guard magnitude < 9.0e18 else { return "\(x)" }
        let n = UInt64(magnitude)
        let whole = n / scale
        var fraction = n % scale
        var text = x < 0 && n != 0 ? "-\(whole)" : "\(whole)"
        if fraction != 0 {
            var digits = maxFractionDigits
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            let raw = String(fraction)
            text += "." + String(repeating: "0", count: max(0, digits - raw.count)) + raw
        }
        return text
    }

    /// A latency in milliseconds: whole milliseconds from 10 ms up (`412ms`), else up to 2 decimals (`1.25ms`).
    static func millis(micros: UInt64) -> String {
        let ms = Double(micros) / 1000
        return decimal(ms, maxFractionDigits: ms >= 10 ? 0 : 2) + "ms"
    }

    /// Basis points as a percentage: `5%`, `2.5%`, `0.01%`.
    static func percent(basisPoints: Int) -> String {
        decimal(Double(basisPoints) / 100, maxFractionDigits: 2) + "%"
    }

    /// A duration in the YAML's units when exact (`10m`, `5s`, `250ms`), else milliseconds.
    static func duration(nanos: UInt64) -> String {
        if nanos >= 60_000_000_000 && nanos % 60_000_000_000 == 0 { return "\(nanos / 60_000_000_000)m" }
        if nanos >= 1_000_000_000 && nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000)s" }
        return decimal(Double(nanos) / 1_000_000, maxFractionDigits: 3) + "ms"
    }
}
