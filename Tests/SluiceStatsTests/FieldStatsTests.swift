import Testing
import SluiceStats

/// Per-field shadow comparison figures: merged over workers, pairs bounded.
struct FieldStatsTests {
    static func label(_ s: FieldStats, worker: Int, _ p: String, _ q: String) {
        let a = Array(p.utf8), b = Array(q.utf8)
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in s.recordLabel(worker: worker, primary: pa, shadow: pb, agreed: p == q) } }
    }

    @Test func labelPairsMergeAcrossWorkersMostFrequentFirst() {
        let s = FieldStats(pointer: "/label", kind: .label, workers: 2)
        for _ in 0..<12 { Self.label(s, worker: 0, "fraud", "not_fraud") }
        for _ in 0..<5 { Self.label(s, worker: 1, "fraud", "not_fraud") }
        for _ in 0..<7 { Self.label(s, worker: 1, "not_fraud", "fraud") }
        for _ in 0..<30 { Self.label(s, worker: 0, "fraud", "fraud") }
        let snap = s.snapshot()
        #expect(snap.compared == 54 && snap.agreed == 30)
        #expect(snap.topPairs == [LabelPair(primary: "fraud", shadow: "not_fraud", count: 17), LabelPair(primary: "not_fraud", shadow: "fraud", count: 7)])
        #expect(snap.otherPairs == 0)
        #expect(abs(snap.agreementRate - 30.0 / 54.0) < 1e-12)
    }

    @Test func pairsBeyondTheTableAndTheTopAreCountedApart() {
        let s = FieldStats(pointer: "/l", kind: .label, workers: 1)
        for i in 0..<(FieldStats.pairSlots + 10) { Self.label(s, worker: 0, "a", "b\(i)") }
        let snap = s.snapshot()
        #expect(snap.topPairs.count == FieldStats.topPairs)
        #expect(snap.otherPairs == UInt64(FieldStats.pairSlots + 10 - FieldStats.topPairs))
        // A label longer than 32 bytes is kept cut.
        let long = FieldStats(pointer: "/l", kind: .label, workers: 1)
        Self.label(long, worker: 0, String(repeating: "x", count: 40), "y")
        #expect(long.snapshot().topPairs.first?.primary == String(repeating: "x", count: 32))
    }

    @Test func numbersAndArrays() {
        let n = FieldStats(pointer: "/score", kind: .number, workers: 2)
        n.recordNumber(worker: 0, difference: 0.02, agreed: false)
        n.recordNumber(worker: 1, difference: -0.005, agreed: true)
        n.recordNumber(worker: 1, difference: 0, agreed: true)
        n.recordMissing(worker: 0)
        let s = n.snapshot()
        #expect(s.compared == 3 && s.agreed == 2 && s.missing == 1)
        #expect(abs(s.meanAbsDifference - 0.025 / 3) < 1e-12 && s.maxDifference == 0.02)
        #expect(abs(s.shadowHigherShare - 1.0 / 3) < 1e-12 && abs(s.shadowLowerShare - 1.0 / 3) < 1e-12)
        let a = FieldStats(pointer: "/top", kind: .array, workers: 1)
        a.recordArray(worker: 0, positions: 4, agreeing: 1, overlap: 0.4, agreed: false)
        a.recordArray(worker: 0, positions: 2, agreeing: 2, overlap: 1, agreed: true)
        #expect(a.snapshot().positionAgreement == 0.5 && abs(a.snapshot().meanOverlap - 0.7) < 1e-12)
    }
}
