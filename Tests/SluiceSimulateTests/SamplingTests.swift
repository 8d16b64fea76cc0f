import Testing
@testable import SluiceSimulate

/// Poisson and binomial samplers: sample means and variances against the exact moments.
struct SamplingTests {
    /// Sample mean and variance of `n` draws.
    static func moments(_ n: Int, _ draw: () -> Int) -> (mean: Double, variance: Double) {
        var sum = 0.0, sumSquares = 0.0
        for _ in 0..<n {
            let x = Double(draw())
            sum += x
            sumSquares += x * x
        }
        let mean = sum / Double(n)
        return (mean, (sumSquares - Double(n) * mean * mean) / Double(n - 1))
    }

    /// The sample mean within 5 standard errors, the sample variance within 5 % (plenty for n = 200 000,
    /// whose relative standard error on the variance is about 0.3 %·sqrt(2 + excess kurtosis)).
    static func check(_ m: (mean: Double, variance: Double), mean: Double, variance: Double, n: Int) {
        let se = (variance / Double(n)).squareRoot()
        #expect(abs(m.mean - mean) < 5 * se + 1e-12, "mean \(m.mean), want \(mean) ± \(5 * se)")
        #expect(abs(m.variance - variance) <= 0.05 * variance + 1e-12, "variance \(m.variance), want \(variance)")
    }

    @Test(arguments: [0.3, 3, 12.5, 29.9, 30, 190, 5000])
    func poissonMomentsMatch(mean: Double) {
        var rng = SimulationRandom(seed: 11)
        let sampler = PoissonSampler(mean: mean)
        let n = 200_000
        let m = Self.moments(n) {
            let k = sampler.sample(&rng)
            #expect(k >= 0)
            return k
        }
        Self.check(m, mean: mean, variance: mean, n: n)
    }

    @Test func poissonOfZeroIsZero() {
        var rng = SimulationRandom(seed: 1)
        let sampler = PoissonSampler(mean: 0)
        for _ in 0..<100 { #expect(sampler.sample(&rng) == 0) }
    }

    /// P(0) of a small mean, against e^−λ.
    @Test func poissonInversionHasTheRightZeroProbability() {
        var rng = SimulationRandom(seed: 5)
        let sampler = PoissonSampler(mean: 2)
        let n = 200_000
        var zeros = 0
        for _ in 0..<n where sampler.sample(&rng) == 0 { zeros += 1 }
        let p = 0.1353352832366127
        #expect(abs(Double(zeros) / Double(n) - p) < 5 * (p * (1 - p) / Double(n)).squareRoot())
    }

    @Test(arguments: [(190, 0.01), (10, 0.5), (1000, 0.03), (2000, 0.3), (500, 0.9), (200, 0.999)])
    func binomialMomentsMatch(trials: Int, probability: Double) {
        var rng = SimulationRandom(seed: 13)
        let sampler = BinomialSampler(probability: probability)
        let n = 200_000
        let m = Self.moments(n) {
            let k = sampler.sample(trials: trials, &rng)
            #expect(k >= 0 && k <= trials)
            return k
        }
        let p = probability, dn = Double(trials)
        Self.check(m, mean: dn * p, variance: dn * p * (1 - p), n: n)
    }

    @Test func binomialEdgesAreExact() {
        var rng = SimulationRandom(seed: 3)
        #expect(BinomialSampler(probability: 0).sample(trials: 50, &rng) == 0)
        #expect(BinomialSampler(probability: 1).sample(trials: 50, &rng) == 50)
        #expect(BinomialSampler(probability: 0.5).sample(trials: 0, &rng) == 0)
    }
}
