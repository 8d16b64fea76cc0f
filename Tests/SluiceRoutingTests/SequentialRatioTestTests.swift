import Testing
@testable import SluiceRouting

struct SequentialRatioTestTests {
    /// Values computed independently (a few lines of Python over the same formula, double precision).
    @Test func statisticMatchesAnIndependentComputation() {
        var t = SequentialRatioTest()
        t.add(candidateRequests: 100, candidateEvents: 5, baselineRequests: 1900, baselineEvents: 19)
        #expect(abs(t.logStatistic - 2.7490639634150638) < 1e-9)
        t.add(candidateRequests: 500, candidateEvents: 30, baselineRequests: 1500, baselineEvents: 15)
        #expect(abs(t.logStatistic - 19.134606921621597) < 1e-9)
        #expect(t.candidateEvents == 35 && t.candidateRequests == 600 && t.baselineEvents == 34 && t.baselineRequests == 3400)

        var tolerant = SequentialRatioTest(ratio0: 2)
        tolerant.add(candidateRequests: 100, candidateEvents: 5, baselineRequests: 1900, baselineEvents: 19)
        tolerant.add(candidateRequests: 500, candidateEvents: 30, baselineRequests: 1500, baselineEvents: 15)
        #expect(abs(tolerant.logStatistic - 6.48356212835124) < 1e-9)

        var better = SequentialRatioTest()
        better.add(candidateRequests: 1000, candidateEvents: 0, baselineRequests: 1000, baselineEvents: 10)
        #expect(abs(better.logStatistic - -2.6272645455427086) < 1e-9)
        #expect(!better.rejects(alpha: 0.05))
    }

    @Test func batchesWithoutInformationChangeNothing() {
        var t = SequentialRatioTest()
        t.add(candidateRequests: 100, candidateEvents: 0, baselineRequests: 1000, baselineEvents: 0)
        t.add(candidateRequests: 0, candidateEvents: 0, baselineRequests: 1000, baselineEvents: 7)
        #expect(t.logStatistic == 0)
        #expect(t.statistic == 1)
        #expect(t.baselineRequests == 2000 && t.baselineEvents == 7)
    }

    @Test func rejectsAtOneOverAlpha() {
        var t = SequentialRatioTest()
        // Every error on a 5 % candidate: strong evidence after a handful.
        for _ in 0..<3 { t.add(candidateRequests: 50, candidateEvents: 1, baselineRequests: 950, baselineEvents: 0) }
        #expect(t.statistic > 20)
        #expect(t.rejects(alpha: 0.05))
        #expect(!t.rejects(alpha: 0.0001))
        #expect(!t.rejects(alpha: 0), "alpha outside (0, 1) never rejects")
    }

    /// The guarantee: under the null (same error rate on both sides), the chance that Λ ever reaches
    /// 1/α over many looks stays below α, whatever the shares do between batches. 500 simulated
    /// rollouts of 360 looks each with a seeded generator; the bound must hold with margin.
    @Test func falseRejectionRateStaysBelowAlphaOverManyLooks() {
        var rng = SplitMix(seed: 42)
        let alpha = 0.05
        var rejections = 0
        let runs = 500
        for _ in 0..<runs {
            var t = SequentialRatioTest()
            for look in 0..<360 {
                let share = look < 100 ? 0.05 : 0.25   // a progressive step
                let n1 = UInt64(400 * share), n0 = UInt64(400 * (1 - share))
                let x1 = rng.binomial(n: n1, p: 0.01), x0 = rng.binomial(n: n0, p: 0.01)
                t.add(candidateRequests: n1, candidateEvents: x1, baselineRequests: n0, baselineEvents: x0)
                if t.rejects(alpha: alpha) { rejections += 1; break }
            }
        }
        let rate = Double(rejections) / Double(runs)
        #expect(rate <= alpha, "false rejection rate \(rate) above alpha \(alpha)")
    }

    /// And it has power: a candidate with three times the errors is caught in every run.
    @Test func detectsATripledErrorRate() {
        var rng = SplitMix(seed: 7)
        for _ in 0..<100 {
            var t = SequentialRatioTest()
            var caught = false
            for _ in 0..<720 {
                let x1 = rng.binomial(n: 50, p: 0.03), x0 = rng.binomial(n: 950, p: 0.01)
                t.add(candidateRequests: 50, candidateEvents: x1, baselineRequests: 950, baselineEvents: x0)
                if t.rejects(alpha: 0.05) { caught = true; break }
            }
            #expect(caught)
        }
    }
}

/// A small seeded generator for the tests (splitmix64).
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Binomial by counting Bernoulli draws (small n in these tests).
    mutating func binomial(n: UInt64, p: Double) -> UInt64 {
        var k: UInt64 = 0
        for _ in 0..<n where uniform() < p { k += 1 }
        return k
    }
}
