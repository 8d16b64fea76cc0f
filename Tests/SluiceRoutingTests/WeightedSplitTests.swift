import Testing
import SluiceRouting

struct WeightedSplitTests {
    @Test func contiguousRangesInConfigOrder() {
        let targets = [Target(backend: 0, weight: 2500), Target(backend: 1, weight: 7000), Target(backend: 2, weight: 500)]
        #expect(WeightedSplit.pick(targets, draw: 0) == 0)
        #expect(WeightedSplit.pick(targets, draw: 2499) == 0)
        #expect(WeightedSplit.pick(targets, draw: 2500) == 1)
        #expect(WeightedSplit.pick(targets, draw: 9499) == 1)
        #expect(WeightedSplit.pick(targets, draw: 9500) == 2)
        #expect(WeightedSplit.pick(targets, draw: 9999) == 2)
    }

    @Test func weightZeroNeverChosen() {
        let targets = [Target(backend: 0, weight: 0), Target(backend: 1, weight: 10_000), Target(backend: 2, weight: 0)]
        for draw in 0..<10_000 { #expect(WeightedSplit.pick(targets, draw: draw) == 1) }
        let blueGreen = [Target(backend: 0, weight: 10_000), Target(backend: 1, weight: 0)]
        for draw in 0..<10_000 { #expect(WeightedSplit.pick(blueGreen, draw: draw) == 0) }
    }

    @Test func raisingAnArmMovesOnlyGainedBuckets() {
        // 50/50 -> 40/60 with the candidate first: it gains [5000, 6000).
        let before = [Target(backend: 0, weight: 5000), Target(backend: 1, weight: 5000)]
        let after = [Target(backend: 0, weight: 6000), Target(backend: 1, weight: 4000)]
        var moved = 0
        var movedBack = 0
        for i in 0..<10_000 {
            let bucket = StickyHash.bucket(salt: "exp", key: "user-\(i)")
            let a = WeightedSplit.pick(before, draw: bucket)
            let b = WeightedSplit.pick(after, draw: bucket)
            if a == 1 && b == 0 { moved += 1 }
            if a == 0 && b == 1 { movedBack += 1 }
        }
        #expect(movedBack == 0)
        // Binomial(10000, 0.1): sd = 30; allow 5 sd.
        #expect(abs(moved - 1000) < 150, "moved \(moved)")
    }

    @Test func ninetyTenWithinBinomialBounds() {
        let targets = [Target(backend: 0, weight: 9000), Target(backend: 1, weight: 1000)]
        var rng = SplitMix64(seed: 2026)
        var canary = 0
        for _ in 0..<10_000 where WeightedSplit.pick(targets, draw: WeightedSplit.draw(&rng)) == 1 {
            canary += 1
        }
        // Binomial(10000, 0.1): mean 1000, sd 30; 4 sd = 120.
        #expect(abs(canary - 1000) <= 120, "canary \(canary)")
    }

    @Test func fractionalWeights() {
        // 99.99 / 0.01: exactly one bucket for the canary.
        let targets = [Target(backend: 0, weight: 9999), Target(backend: 1, weight: 1)]
        let hits = (0..<10_000).filter { WeightedSplit.pick(targets, draw: $0) == 1 }
        #expect(hits == [9999])
    }

    @Test func withWeightsPublishesACopy() {
        let table = RouteTable(
            backends: makeBackends(2),
            routes: [Route(name: "r", pathPrefix: "/".bytes, targets: [Target(backend: 0, weight: 10_000), Target(backend: 1, weight: 0)])])
        #expect(!table.routes[0].acceptsWeights([5000, 4000]))
        #expect(!table.routes[0].acceptsWeights([10_000]))
        let flipped = table.withWeights(route: 0, weights: [0, 10_000])
        #expect(flipped.weights(route: 0) == [0, 10_000])
        #expect(table.weights(route: 0) == [10_000, 0])
        #expect(flipped.routeIndex(named: "r") == 0)
        #expect(flipped.backendIndex(named: "b1") == 1)
    }
}
