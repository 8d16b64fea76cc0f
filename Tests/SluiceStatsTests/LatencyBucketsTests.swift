import Testing
@testable import SluiceStats

@Suite("LatencyBuckets")
struct LatencyBucketsTests {
    @Test func layoutIsContiguousAndMonotonic() {
        #expect(LatencyBuckets.count == 1408)
        for i in 0..<(LatencyBuckets.count - 1) {
            let upper = UInt64(LatencyBuckets.upperBoundMicros(i))
            #expect(LatencyBuckets.lowerBoundMicros(i + 1) == upper + 1)
        }
        #expect(LatencyBuckets.upperBoundMicros(LatencyBuckets.count - 1) == Double(LatencyBuckets.clampMicros - 1))
    }

    @Test func indexMatchesBounds() {
        var samples: [UInt64] = Array(0...5000)
        var v: UInt64 = 5000
        while v < LatencyBuckets.clampMicros { samples.append(v); samples.append(v - 1); v = v * 3 / 2 }
        for micros in samples {
            let i = LatencyBuckets.index(micros: micros)
            #expect(LatencyBuckets.lowerBoundMicros(i) <= micros)
            #expect(Double(micros) <= LatencyBuckets.upperBoundMicros(i))
        }
    }

    @Test func smallValuesAreExactAndLargeValuesClamp() {
        for micros: UInt64 in 0..<64 {
            #expect(LatencyBuckets.index(micros: micros) == Int(micros))
            #expect(LatencyBuckets.representativeMicros(Int(micros)) == Double(micros))
        }
        #expect(LatencyBuckets.index(micros: LatencyBuckets.clampMicros) == LatencyBuckets.count - 1)
        #expect(LatencyBuckets.index(micros: .max) == LatencyBuckets.count - 1)
    }

    @Test func representativeWithinOnePercent() {
        var micros: UInt64 = 1
        while micros < LatencyBuckets.clampMicros {
            let rep = LatencyBuckets.representativeMicros(LatencyBuckets.index(micros: micros))
            #expect(abs(rep - Double(micros)) / Double(micros) <= 0.01)
            micros = micros * 17 / 16 + 1
        }
    }

    @Test func bucketsAtOrBelow() {
        for micros: UInt64 in [0, 1, 63, 64, 999, 1000, 1007, 2500, 10_000_000, LatencyBuckets.clampMicros - 1] {
            let n = LatencyBuckets.bucketsAtOrBelow(micros: micros)
            if n > 0 { #expect(LatencyBuckets.upperBoundMicros(n - 1) <= Double(micros)) }
            if n < LatencyBuckets.count { #expect(LatencyBuckets.upperBoundMicros(n) > Double(micros)) }
        }
    }

    @Test func percentileOfEmptyHistogramIsZero() {
        let empty = [UInt64](repeating: 0, count: LatencyBuckets.count)
        #expect(LatencyBuckets.percentileMicros(empty, quantile: 0.99) == 0)
    }
}
