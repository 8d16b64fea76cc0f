import Testing
@testable import SluiceRouting

struct RolloutRulesTests {
    static let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 100,
                                   maxP99Micros: 250_000, maxErrorRate: 0.02, breachesToTrip: 3)

    static func figures(_ requests: UInt64, errors: UInt64 = 0, p99Ms: UInt64 = 10) -> RolloutWindowFigures {
        RolloutWindowFigures(requests: requests, errors: errors, p99Micros: p99Ms * 1000)
    }

    @Test func zTestExamples() throws {
        // 2/100 vs 1/100: p = 0.015, z ≈ 0.58, not significant.
        let small = try #require(RolloutRules.zScore(candidateErrors: 2, candidateRequests: 100, baselineErrors: 1, baselineRequests: 100))
        #expect(abs(small - 0.5817) < 0.001)
        #expect(!RolloutRules.isErrorIncreaseSignificant(candidateErrors: 2, candidateRequests: 100, baselineErrors: 1, baselineRequests: 100))
        // 30/1000 vs 10/1000: p = 0.02, z ≈ 3.19, significant.
        let large = try #require(RolloutRules.zScore(candidateErrors: 30, candidateRequests: 1000, baselineErrors: 10, baselineRequests: 1000))
        #expect(abs(large - 3.1944) < 0.001)
        #expect(RolloutRules.isErrorIncreaseSignificant(candidateErrors: 30, candidateRequests: 1000, baselineErrors: 10, baselineRequests: 1000))
        // Undefined: no variance, or an empty side.
        #expect(RolloutRules.zScore(candidateErrors: 0, candidateRequests: 100, baselineErrors: 0, baselineRequests: 100) == nil)
        #expect(RolloutRules.zScore(candidateErrors: 5, candidateRequests: 5, baselineErrors: 7, baselineRequests: 7) == nil)
        #expect(RolloutRules.zScore(candidateErrors: 1, candidateRequests: 10, baselineErrors: 0, baselineRequests: 0) == nil)
        // A lower candidate rate is never significant (one-sided).
        #expect(!RolloutRules.isErrorIncreaseSignificant(candidateErrors: 10, candidateRequests: 1000, baselineErrors: 30, baselineRequests: 1000))
    }

    @Test func thresholdsAreStrict() {
        let spec = Self.spec
        // Exactly at the thresholds: healthy.
        #expect(RolloutRules.judge(candidate: Self.figures(100, errors: 2, p99Ms: 250), baseline: nil, spec: spec) == .healthy)
        // Just above the latency threshold.
        let slow = RolloutRules.judge(candidate: RolloutWindowFigures(requests: 100, errors: 0, p99Micros: 250_001), baseline: nil, spec: spec)
        #expect(slow == .breach("p99 250ms > 250ms"))
        // Just above the error threshold.
        #expect(RolloutRules.judge(candidate: Self.figures(100, errors: 3), baseline: nil, spec: spec) == .breach("error rate 0.03 > 0.02"))
        // Both.
        #expect(RolloutRules.judge(candidate: Self.figures(1000, errors: 153, p99Ms: 412), baseline: nil, spec: spec)
                == .breach("p99 412ms > 250ms and error rate 0.153 > 0.02"))
    }

    @Test func minRequestsGivesNoVerdict() {
        #expect(RolloutRules.judge(candidate: Self.figures(99, errors: 99, p99Ms: 9000), baseline: nil, spec: Self.spec) == .noVerdict)
        #expect(RolloutRules.judge(candidate: Self.figures(100, errors: 99, p99Ms: 9000), baseline: nil, spec: Self.spec) != .noVerdict)
    }

    @Test func relativeLatencySuppressesFleetWideSlowdown() {
        var spec = Self.spec
        spec.relativeToBaseline = RelativeThresholds(p99Ratio: 1.5)
        // Everything is slow: candidate 400 ms, baseline 380 ms. Above the absolute limit, not 1.5x the baseline.
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 400), baseline: Self.figures(5000, p99Ms: 380), spec: spec) == .healthy)
        // Candidate alone is slow.
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 600), baseline: Self.figures(5000, p99Ms: 380), spec: spec)
                == .breach("p99 600ms > 250ms and > 1.5x baseline p99 380ms"))
        // Baseline below min_requests: the relative check does not apply, the absolute one decides.
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 400), baseline: Self.figures(50, p99Ms: 380), spec: spec)
                == .breach("p99 400ms > 250ms"))
    }

    @Test func relativeOnlyNeedsAUsableBaseline() {
        let spec = RollbackSpec(minRequests: 100, relativeToBaseline: RelativeThresholds(p99Ratio: 2))
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 400), baseline: nil, spec: spec) == .noVerdict)
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 400), baseline: Self.figures(10, p99Ms: 100), spec: spec) == .noVerdict)
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 400), baseline: Self.figures(100, p99Ms: 100), spec: spec)
                == .breach("p99 400ms > 2x baseline p99 100ms"))
        #expect(RolloutRules.judge(candidate: Self.figures(500, p99Ms: 200), baseline: Self.figures(100, p99Ms: 100), spec: spec) == .healthy)
    }

    @Test func relativeErrorNeedsDeltaAndSignificance() {
        let spec = RollbackSpec(minRequests: 100, maxErrorRate: 0.005,
                                relativeToBaseline: RelativeThresholds(errorRateDelta: 0.005))
        // 2/100 vs 1/100: above max_error_rate and the delta, but not significant.
        #expect(RolloutRules.judge(candidate: Self.figures(100, errors: 2), baseline: Self.figures(100, errors: 1), spec: spec) == .healthy)
        // 30/1000 vs 10/1000: significant.
        #expect(RolloutRules.judge(candidate: Self.figures(1000, errors: 30), baseline: Self.figures(1000, errors: 10), spec: spec)
                == .breach("error rate 0.03 > 0.005 and > baseline 0.01 + 0.005 (z = 3.19)"))
        // Significant but within the delta.
        let wide = RollbackSpec(minRequests: 100, relativeToBaseline: RelativeThresholds(errorRateDelta: 0.05))
        #expect(RolloutRules.judge(candidate: Self.figures(1000, errors: 30), baseline: Self.figures(1000, errors: 10), spec: wide) == .healthy)
    }

    @Test func formatting() {
        #expect(RolloutFormat.decimal(0.153, maxFractionDigits: 3) == "0.153")
        #expect(RolloutFormat.decimal(0.02, maxFractionDigits: 4) == "0.02")
        #expect(RolloutFormat.decimal(0.0004, maxFractionDigits: 3) == "0")
        #expect(RolloutFormat.decimal(1.5, maxFractionDigits: 3) == "1.5")
        #expect(RolloutFormat.decimal(-3.19444, maxFractionDigits: 2) == "-3.19")
        #expect(RolloutFormat.millis(micros: 412_370) == "412ms")
        #expect(RolloutFormat.millis(micros: 1_250) == "1.25ms")
        #expect(RolloutFormat.percent(basisPoints: 250) == "2.5%")
        #expect(RolloutFormat.percent(basisPoints: 1) == "0.01%")
        #expect(RolloutFormat.duration(nanos: 600_000_000_000) == "10m")
        #expect(RolloutFormat.duration(nanos: 5_000_000_000) == "5s")
        #expect(RolloutFormat.duration(nanos: 250_000_000) == "250ms")
    }
}
