import Glibc

/// An always-valid sequential test that a candidate's rate of some event (errors, slow requests) is no
/// more than `ratio0` times the baseline's, however often it is looked at.
///
/// **Model.** Candidate requests have event probability `p1`, baseline requests `p0`. The data arrive in
/// batches (one per evaluation): `n1` candidate and `n0` baseline requests with `x1` and `x0` events.
/// Conditional on a batch's event total `m = x1 + x0`, the candidate's share of the events is binomial
/// with success probability
///
///     π(ρ) = ρ·n1 / (ρ·n1 + n0)        where ρ = p1 / p0 (the rate ratio)
///
/// (the classical conditional test for two Poisson or rare-Bernoulli rates; for common events the
/// conditional law is hypergeometric, which is more concentrated, so the statistic below is a
/// supermartingale there too).
///
/// **Statistic.** For each alternative ratio `ρ_k = ratio0 · r_k` of a fixed grid `r_k > 1`, the
/// likelihood ratio of the batches against the null `ρ = ratio0` is
///
///     L_k = Π_batches (π(ρ_k) / π(ratio0))^x1 · ((1 − π(ρ_k)) / (1 − π(ratio0)))^x0
///
/// and the test statistic is their average, `Λ = (1/K) Σ_k L_k` (a mixture SPRT, mSPRT). Under the null
/// every `L_k` is a non-negative martingale with mean 1 whatever the batch sizes and shares are (they may
/// change between batches, e.g. progressive steps), so by Ville's inequality
/// `P(Λ ever reaches 1/α) ≤ α`: the false-rollback probability over the whole rollout is at most α
/// whatever the number of evaluations. When `p1 < ratio0 · p0` it is smaller still.
///
/// The test **rejects** (the candidate is worse) once `Λ ≥ 1/α`. It never accepts: a candidate that is
/// not worse simply keeps a small `Λ`.
///
/// References: A. Wald, *Sequential Analysis* (1947); H. Robbins, "Statistical methods related to the
/// law of the iterated logarithm" (1970, mixture SPRT); R. Johari, L. Pekelis, D. Walsh, "Always valid
/// inference" (Operations Research, 2022); M. Lindon, C. Sanden, V. Shirikian, "Rapid regression
/// detection in software deployments through sequential testing" (KDD 2022, conditional tests on counts).
public struct SequentialRatioTest: Sendable, Hashable {
    /// Alternative ratios `r_k` (multiples of `ratio0`) mixed with equal weight: small ones catch small
    /// regressions given enough data, large ones catch big regressions in few events.
    public static let alternatives: [Double] = [1.25, 1.5, 2, 3, 5, 10]

    /// Ratio of the candidate's rate to the baseline's that is still acceptable (1: no increase).
    public let ratio0: Double
    /// `log L_k` for every alternative, accumulated over all batches.
    public private(set) var logLikelihoods: [Double]
    /// Candidate requests seen.
    public private(set) var candidateRequests: UInt64 = 0
    /// Candidate events seen.
    public private(set) var candidateEvents: UInt64 = 0
    /// Baseline requests seen.
    public private(set) var baselineRequests: UInt64 = 0
    /// Baseline events seen.
    public private(set) var baselineEvents: UInt64 = 0

    /// A fresh test (no data) with tolerance `ratio0` (> 0).
    public init(ratio0: Double = 1) {
        self.ratio0 = max(ratio0, 1e-9)
        self.logLikelihoods = Array(repeating: 0, count: Self.alternatives.count)
    }

    /// Adds one batch: `n1` candidate requests with `x1` events, `n0` baseline requests with `x0` events.
    /// A batch with no requests on either side or no events carries no information and changes nothing
    /// but the totals.
    public mutating func add(candidateRequests n1: UInt64, candidateEvents x1: UInt64,
                             baselineRequests n0: UInt64, baselineEvents x0: UInt64) {
        candidateRequests &+= n1
        candidateEvents &+= min(x1, n1)
        baselineRequests &+= n0
        baselineEvents &+= min(x0, n0)
        guard n1 > 0, n0 > 0, x1 + x0 > 0 else { return }
        let c1 = Double(n1), c0 = Double(n0)
        let e1 = Double(min(x1, n1)), e0 = Double(min(x0, n0))
        let nullShare = ratio0 * c1 / (ratio0 * c1 + c0)
        for k in Self.alternatives.indices {
            let rho = ratio0 * Self.alternatives[k]
            let share = rho * c1 / (rho * c1 + c0)
            logLikelihoods[k] += e1 * (log(share) - log(nullShare)) + e0 * (log1p(-share) - log1p(-nullShare))
        }
    }

    /// `log Λ`, the logarithm of the mixture likelihood ratio (0 before any informative batch).
    public var logStatistic: Double {
        // log-mean-exp, stable for large values.
        guard let top = logLikelihoods.max() else { return 0 }
        var sum = 0.0
        for l in logLikelihoods { sum += exp(l - top) }
        return top + log(sum / Double(logLikelihoods.count))
    }

    /// `Λ`, capped at `Double.greatestFiniteMagnitude`.
    public var statistic: Double {
        let l = logStatistic
        return l > 700 ? .greatestFiniteMagnitude : exp(l)
    }

    /// Whether the candidate is worse at level `alpha`: `Λ ≥ 1/alpha`.
    public func rejects(alpha: Double) -> Bool {
        guard alpha > 0, alpha < 1 else { return false }
        return logStatistic >= -log(alpha)
    }

    /// Candidate event rate so far (0 without requests).
    public var candidateRate: Double { candidateRequests == 0 ? 0 : Double(candidateEvents) / Double(candidateRequests) }
    /// Baseline event rate so far (0 without requests).
    public var baselineRate: Double { baselineRequests == 0 ? 0 : Double(baselineEvents) / Double(baselineRequests) }
}
