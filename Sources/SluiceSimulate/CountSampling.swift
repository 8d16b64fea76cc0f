import Glibc

/// Poisson-distributed counts with a fixed mean: how many requests one target receives in one second.
///
/// Exact methods only (no normal approximation, whose tails would bias false-rollback rates):
/// - mean < 30: inversion by sequential search, `P(0) = e^−λ`, `P(k) = P(k−1)·λ/k`, about λ + 1 steps;
/// - mean ≥ 30: PTRS, the transformed rejection method with squeeze of Hörmann ("The transformed
///   rejection method for generating Poisson random variables", Insurance: Mathematics and Economics
///   12, 1993), valid for λ ≥ 10, about 1.1 uniform pairs per sample and a `lgamma` on rare rejections.
///
/// The constants depend on λ only and are computed once per sampler; the runner keeps one sampler per
/// target and rebuilds it only when the weights change.
public struct PoissonSampler: Sendable {
    /// The mean λ (≥ 0).
    public let mean: Double
    /// `e^−λ` (inversion).
    private let expMinusMean: Double
    /// PTRS constants (Hörmann's notation): `b`, `a`, `1/α`, `v_r`, and `log λ`.
    private let b: Double, a: Double, invAlpha: Double, vr: Double, logMean: Double

    /// Means below this use inversion.
    public static let inversionLimit: Double = 30

    /// A sampler of Poisson(`mean`); negative or non-finite means count as 0.
    public init(mean: Double) {
        let m = mean.isFinite ? max(mean, 0) : 0
        self.mean = m
        expMinusMean = exp(-m)
        let sq = m.squareRoot()
        b = 0.931 + 2.53 * sq
        a = -0.059 + 0.02483 * b
        invAlpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        logMean = m > 0 ? log(m) : 0
    }

    /// One Poisson draw.
    @inline(__always)
    public func sample(_ rng: inout SimulationRandom) -> Int {
        if mean <= 0 { return 0 }
        return mean < Self.inversionLimit ? inversion(&rng) : transformedRejection(&rng)
    }

    /// Sequential search of the CDF (bounded, in case rounding leaves `u` above the computed total).
    private func inversion(_ rng: inout SimulationRandom) -> Int {
        let u = rng.nextUnit()
        var k = 0
        var p = expMinusMean
        var cdf = p
        let cap = Int(mean * 4) + 60
        while u > cdf && k < cap {
            k += 1
            p *= mean / Double(k)
            cdf += p
        }
        return k
    }

    /// PTRS: a candidate from the transformed uniform, accepted at once inside the squeeze, else by
    /// comparing the hat with the exact log-probability.
    private func transformedRejection(_ rng: inout SimulationRandom) -> Int {
        while true {
            let u = rng.nextUnit() - 0.5
            let v = rng.nextOpenUnit()
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + mean + 0.43).rounded(.down)
            if us >= 0.07 && v <= vr { return Int(k) }
            if k < 0 || (us < 0.013 && v > us) { continue }
            let lhs = log(v) + log(invAlpha) - log(a / (us * us) + b)
            let rhs = -mean + k * logMean - lgamma(k + 1)
            if lhs <= rhs { return Int(k) }
        }
    }
}

/// Binomially distributed counts with a fixed success probability: how many of a second's `n` requests
/// are errors.
///
/// With `p' = min(p, 1 − p)` (the other side by symmetry):
/// - `n·p' < 10`: inversion, `P(0) = (1 − p')^n`, `P(k) = P(k−1)·(n − k + 1)/k · p'/(1 − p')`;
/// - `n·p' ≥ 10`: BTRS, Hörmann's transformed rejection for the binomial ("The generation of binomial
///   random variates", Journal of Statistical Computation and Simulation 46, 1993).
public struct BinomialSampler: Sendable {
    /// The success probability p, clamped to 0...1.
    public let probability: Double
    /// `min(p, 1 − p)`, the side actually sampled.
    private let p: Double
    /// Whether the draws are of failures (p > 0.5) and must be mirrored.
    private let mirrored: Bool
    /// `log(1 − p')` and `log(p'/(1 − p'))`.
    private let logQ: Double, logOdds: Double

    /// A sampler of Binomial(n, `probability`).
    public init(probability: Double) {
        let pr = probability.isFinite ? min(max(probability, 0), 1) : 0
        self.probability = pr
        mirrored = pr > 0.5
        p = mirrored ? 1 - pr : pr
        logQ = p < 1 ? log1p(-p) : -Double.infinity
        logOdds = p > 0 && p < 1 ? log(p / (1 - p)) : 0
    }

    /// One draw of Binomial(`n`, p).
    @inline(__always)
    public func sample(trials n: Int, _ rng: inout SimulationRandom) -> Int {
        if n <= 0 { return 0 }
        if p <= 0 { return mirrored ? n : 0 }
        let k = Double(n) * p < 10 ? inversion(n, &rng) : transformedRejection(n, &rng)
        return mirrored ? n - k : k
    }

    /// Sequential search of the CDF.
    private func inversion(_ n: Int, _ rng: inout SimulationRandom) -> Int {
        let odds = p / (1 - p)
        var prob = exp(Double(n) * logQ)
        var u = rng.nextUnit()
        var k = 0
        while u > prob && k < n {
            u -= prob
            k += 1
            prob *= Double(n - k + 1) / Double(k) * odds
        }
        return k
    }

    /// BTRS for `n·p ≥ 10`.
    private func transformedRejection(_ n: Int, _ rng: inout SimulationRandom) -> Int {
        let dn = Double(n)
        let spq = (dn * p * (1 - p)).squareRoot()
        let b = 1.15 + 2.53 * spq
        let a = -0.0873 + 0.0248 * b + 0.01 * p
        let c = dn * p + 0.5
        let vr = 0.92 - 4.2 / b
        let alpha = (2.83 + 5.1 / b) * spq
        let m = ((dn + 1) * p).rounded(.down)
        let h = lgamma(m + 1) + lgamma(dn - m + 1)
        while true {
            let u = rng.nextUnit() - 0.5
            let v = rng.nextOpenUnit()
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + c).rounded(.down)
            if k < 0 || k > dn { continue }
            if us >= 0.07 && v <= vr { return Int(k) }
            let lhs = log(v * alpha / (a / (us * us) + b))
            let rhs = h - lgamma(k + 1) - lgamma(dn - k + 1) + (k - m) * logOdds
            if lhs <= rhs { return Int(k) }
        }
    }
}
