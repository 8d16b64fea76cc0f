import SluiceStats
import Testing
@testable import SluiceSimulate

/// Latency distributions over the histogram buckets, and the alias table drawing from them.
struct DistributionTests {
    /// Index of the first bucket where the cumulative probability reaches `q`.
    static func quantileBucket(_ p: [Double], _ q: Double) -> Int {
        var cumulative = 0.0
        for (i, x) in p.enumerated() {
            cumulative += x
            if cumulative >= q { return i }
        }
        return p.count - 1
    }

    @Test func lognormalBucketsSumToOneAndSplitAtTheMedian() throws {
        let d = try LatencyDistribution.parse("lognormal:20ms,0.5")
        let p = d.bucketProbabilities()
        #expect(p.count == LatencyBuckets.count)
        #expect(abs(p.reduce(0, +) - 1) < 1e-12)
        #expect(p.allSatisfy { $0 >= 0 })
        let median = Self.quantileBucket(p, 0.5)
        #expect(median == LatencyBuckets.index(micros: 20_000))
        // p99 = 20ms · e^(2.3263·0.5) ≈ 64.0ms.
        let p99 = LatencyBuckets.representativeMicros(Self.quantileBucket(p, 0.99))
        #expect(abs(p99 - 63_990) < 63_990 * 0.01)
    }

    @Test func constantFillsOneBucket() throws {
        let p = try LatencyDistribution.parse("constant:2.5ms").bucketProbabilities()
        let i = LatencyBuckets.index(micros: 2500)
        #expect(p[i] == 1)
        #expect(abs(p.reduce(0, +) - 1) < 1e-12)
    }

    @Test func exponentialAndParetoHaveTheirQuantiles() throws {
        let e = try LatencyDistribution.parse("exponential:10ms").bucketProbabilities()
        // Median of an exponential: mean · ln 2.
        #expect(Self.quantileBucket(e, 0.5) == LatencyBuckets.index(micros: 6931))
        let pareto = try LatencyDistribution.parse("pareto:10ms,1.5").bucketProbabilities()
        #expect(abs(pareto.reduce(0, +) - 1) < 1e-12)
        // Pareto quantile: scale · (1 − q)^(−1/shape); p99 = 10ms · 100^(2/3) ≈ 215.4ms.
        let p99 = LatencyBuckets.representativeMicros(Self.quantileBucket(pareto, 0.99))
        #expect(abs(p99 - 215_443) < 215_443 * 0.01)
        // Nothing below the scale.
        #expect(pareto[..<LatencyBuckets.index(micros: 9_999)].allSatisfy { $0 == 0 })
    }

    @Test func parseRejectsBadModels() {
        for text in ["lognormal:20ms", "lognormal:20,0.5", "gauss:1ms", "constant", "pareto:10ms,-1", "uniform:5ms,1ms", "exponential:0ms"] {
            #expect(throws: SimulationSetupError.self) { try LatencyDistribution.parse(text) }
        }
        #expect((try? LatencyDistribution.parse("uniform:800us,1.5ms"))?.description == "uniform:800us,1.5ms")
        #expect((try? LatencyDistribution.parse("LogNormal:20ms,0.50"))?.description == "lognormal:20ms,0.5")
    }

    @Test func aliasTableRepresentsTheDistributionExactly() throws {
        let p = try LatencyDistribution.parse("lognormal:20ms,0.8").bucketProbabilities()
        let table = AliasTable(weights: p)
        let drawn = table.drawProbabilities()
        for i in p.indices { #expect(abs(drawn[i] - p[i]) < 1e-8, "bucket \(i)") }
    }

    @Test func aliasTableFrequenciesMatchTheDistribution() throws {
        let p = try LatencyDistribution.parse("lognormal:5ms,1").bucketProbabilities()
        let table = AliasTable(weights: p)
        var rng = SimulationRandom(seed: 21)
        let n = 1_000_000
        var counts = [Int](repeating: 0, count: p.count)
        for _ in 0..<n { counts[table.sample(&rng)] += 1 }
        var chiSquare = 0.0, cells = 0
        for i in p.indices where p[i] * Double(n) >= 20 {
            let expected = p[i] * Double(n)
            chiSquare += (Double(counts[i]) - expected) * (Double(counts[i]) - expected) / expected
            cells += 1
            #expect(abs(Double(counts[i]) - expected) < 6 * expected.squareRoot(), "bucket \(i)")
        }
        // Mean cells − 1, sd sqrt(2(cells − 1)): far above 6 sd would mean a biased table.
        #expect(chiSquare < Double(cells) + 6 * (2 * Double(cells)).squareRoot())
        for i in p.indices where p[i] == 0 { #expect(counts[i] == 0) }
    }

    @Test func aliasTableOfOneOutcomeAlwaysDrawsIt() {
        let table = AliasTable(weights: [0, 0, 3, 0])
        var rng = SimulationRandom(seed: 1)
        for _ in 0..<1000 { #expect(table.sample(&rng) == 2) }
    }
}
