import SluiceFleet
import SluiceRouting
import SluiceStats
import Testing

/// The leader's merge of per-replica seconds.
struct FleetWindowTests {
    func second(_ s: UInt64, _ route: String, _ n: [UInt64], errors: [UInt64], micros: UInt64 = 1000) -> FleetSecond {
        FleetSecond(s: s, routes: [route: n.indices.map { t in
            var h = Array(repeating: UInt64(0), count: LatencyBuckets.count)
            h[LatencyBuckets.index(micros: micros)] = n[t]
            return FleetTargetSecond(requests: n[t], errors: errors[t], histogram: h)
        }])
    }

    @Test func sumsReplicasAndSecondsInRange() {
        var store = FleetWindowStore(horizonSeconds: 60)
        store.ingest(FleetWindowPublication(instance: "a", publishedAt: 0, seconds: [
            second(100, "r", [10, 4], errors: [0, 2]), second(101, "r", [10, 4], errors: [0, 2]),
        ]))
        store.ingest(FleetWindowPublication(instance: "b", publishedAt: 0, seconds: [
            second(101, "r", [20, 5], errors: [1, 3], micros: 90_000),
        ]))
        let f = store.figures(route: "r", targets: 2, endSecond: 101, seconds: 2)
        #expect(f[0].requests == 40)
        #expect(f[1].requests == 13)
        #expect(f[1].errors == 7)
        #expect(f[1].latencyCount == 13)
        // Only second 101.
        let one = store.figures(route: "r", targets: 2, endSecond: 101, seconds: 1)
        #expect(one[1].requests == 9)
        // Latency histograms merge: b's slow requests dominate the p99.
        #expect(one[0].p99Micros > 80_000)
    }

    @Test func republishedSecondReplacesNotAdds() {
        var store = FleetWindowStore()
        store.ingest(FleetWindowPublication(instance: "a", publishedAt: 0, seconds: [second(5, "r", [3], errors: [0])]))
        store.ingest(FleetWindowPublication(instance: "a", publishedAt: 1, seconds: [second(5, "r", [7], errors: [1])]))
        #expect(store.figures(route: "r", targets: 1, endSecond: 5, seconds: 1)[0].requests == 7)
    }

    @Test func deadReplicasLeave() {
        var store = FleetWindowStore()
        store.ingest(FleetWindowPublication(instance: "a", publishedAt: 0, seconds: [second(5, "r", [3], errors: [0])]))
        store.ingest(FleetWindowPublication(instance: "b", publishedAt: 0, seconds: [second(5, "r", [4], errors: [0])]))
        store.retain(live: ["b"])
        #expect(store.figures(route: "r", targets: 1, endSecond: 5, seconds: 1)[0].requests == 4)
        #expect(store.instances == ["b"])
    }

    @Test func sparseHistogramKeepsOnlyNonEmptyBuckets() {
        var h = Array(repeating: UInt64(0), count: LatencyBuckets.count)
        h[3] = 2
        h[700] = 1
        let t = FleetTargetSecond(requests: 3, errors: 0, histogram: h)
        #expect(t.h == [[3, 2], [700, 1]])
    }

    @Test func onlyReplicasWithTheLeadersDefinitionAddUp() {
        var store = FleetWindowStore()
        store.ingest(FleetWindowPublication(instance: "a", publishedAt: 0, seconds: [second(5, "r", [3], errors: [0])], definitions: ["r": "d1"]))
        store.ingest(FleetWindowPublication(instance: "b", publishedAt: 0, seconds: [second(5, "r", [4], errors: [0])], definitions: ["r": "d2"]))
        #expect(store.figures(route: "r", definition: "d1", targets: 1, endSecond: 5, seconds: 1)[0].requests == 3)
        #expect(store.figures(route: "r", targets: 1, endSecond: 5, seconds: 1)[0].requests == 7)
    }
}
