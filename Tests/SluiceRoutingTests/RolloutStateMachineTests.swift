import Testing
@testable import SluiceRouting

/// Seconds as monotonic nanoseconds.
private func sec(_ s: UInt64) -> UInt64 { s * 1_000_000_000 }

private func ms(_ m: UInt64) -> UInt64 { m * 1_000_000 }

struct RolloutStateMachineTests {
    /// baseline (index 0) at 100 %, candidate (index 1) at 0, progressive 1, 5, 25, 50, 100 every 10 s.
    static func progressiveRoute(rollback: RollbackSpec? = nil, steps: [Int] = [100, 500, 2500, 5000, 10_000]) -> Route {
        Route(name: "fraud", pathPrefix: Array("/v1".utf8), baseline: 0,
              targets: [Target(backend: 0, weight: 10_000), Target(backend: 1, weight: 0)],
              progressive: ProgressiveSpec(target: 1, steps: steps, intervalNanos: sec(10)),
              rollback: rollback)
    }

    /// baseline 90 %, candidate 10 %, rollback only.
    static func canaryRoute(_ spec: RollbackSpec) -> Route {
        Route(name: "canary", pathPrefix: Array("/c".utf8), baseline: 0,
              targets: [Target(backend: 0, weight: 9000), Target(backend: 1, weight: 1000)],
              rollback: spec)
    }

    static let names = ["v1", "v2"]

    static let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: sec(5), minRequests: 100,
                                   maxP99Micros: 250_000, maxErrorRate: 0.02, breachesToTrip: 3)

    static func window(_ baseline: RolloutWindowFigures, _ candidate: RolloutWindowFigures) -> [RolloutWindowFigures] {
        [baseline, candidate]
    }

    static let healthyBaseline = RolloutWindowFigures(requests: 10_000, errors: 10, p99Micros: 100_000)

    static func candidate(_ requests: UInt64, errors: UInt64 = 0, p99Ms: UInt64 = 100) -> RolloutWindowFigures {
        RolloutWindowFigures(requests: requests, errors: errors, p99Micros: p99Ms * 1000)
    }

    static func events(_ actions: [RolloutAction]) -> [String] {
        actions.compactMap { if case .event(let type, _, _) = $0 { return type } else { return nil } }
    }

    static func weights(_ actions: [RolloutAction]) -> [Int]? {
        for a in actions { if case .setWeights(let w) = a { return w } }
        return nil
    }

    // MARK: Progressive

    @Test func progressesThroughStepsAtExactTimes() {
        var m = RolloutStateMachine(route: Self.progressiveRoute(), targetNames: Self.names)
        #expect(m.state == .progressing)
        let t0 = sec(1000)
        let start = m.start(now: t0)
        #expect(Self.weights(start) == [9900, 100])
        #expect(start.contains(.event(type: "weight_change", target: 1, reason: "progressive rollout started: v2 at 1% (step 1 of 5)")))
        #expect(m.start(now: t0 + 1).isEmpty, "start is idempotent")

        #expect(m.advance(now: t0 + sec(10) - 1).isEmpty)
        #expect(Self.weights(m.advance(now: t0 + sec(10))) == [9500, 500])
        #expect(m.stepIndex == 1)
        #expect(m.advance(now: t0 + sec(19)).isEmpty)
        // Late ticks: one step per call, the interval counts from the step.
        #expect(Self.weights(m.advance(now: t0 + sec(35))) == [7500, 2500])
        #expect(m.advance(now: t0 + sec(44)).isEmpty)
        #expect(Self.weights(m.advance(now: t0 + sec(45))) == [5000, 5000])
        #expect(m.state == .progressing)
        let last = m.advance(now: t0 + sec(55))
        #expect(Self.weights(last) == [0, 10_000])
        #expect(Self.events(last) == ["promotion"])
        #expect(m.state == .promoted)
        #expect(m.weights == [0, 10_000])
        #expect(m.advance(now: t0 + sec(1000)).isEmpty)
    }

    @Test func lastStepBelowHundredHolds() {
        var m = RolloutStateMachine(route: Self.progressiveRoute(steps: [1000, 5000]), targetNames: Self.names)
        _ = m.start(now: 0)
        #expect(Self.weights(m.advance(now: sec(10))) == [5000, 5000])
        #expect(m.state == .steady)
        #expect(m.advance(now: sec(100)).isEmpty)
        // The operator may still finish it.
        let done = try? m.promote(toFinal: false, now: sec(101))
        #expect(Self.weights(done ?? []) == [0, 10_000])
        #expect(m.state == .promoted)
    }

    @Test func thirdTargetKeepsItsWeight() {
        let route = Route(name: "three", baseline: 0,
                          targets: [Target(backend: 0, weight: 9000), Target(backend: 1, weight: 0), Target(backend: 2, weight: 1000)],
                          progressive: ProgressiveSpec(target: 1, steps: [500, 9500, 10_000], intervalNanos: sec(1)))
        let m = RolloutStateMachine(route: route)
        #expect(m.weights(forStep: 500) == [8500, 500, 1000])
        #expect(m.weights(forStep: 9500) == [0, 9500, 500])
        #expect(m.weights(forStep: 10_000) == [0, 10_000, 0])
    }

    @Test func pauseAndResume() throws {
        var m = RolloutStateMachine(route: Self.progressiveRoute(), targetNames: Self.names)
        _ = m.start(now: 0)
        let paused = try m.pause(now: sec(5))
        #expect(Self.events(paused) == ["pause"])
        #expect(m.state == .paused)
        #expect(m.advance(now: sec(60)).isEmpty, "no step while paused")
        #expect(throws: RolloutRefusal.self) { try m.pause(now: sec(61)) }
        let resumed = try m.resume(now: sec(70))
        #expect(Self.events(resumed) == ["resume"])
        #expect(m.state == .progressing)
        // The interval starts over at the resume.
        #expect(m.advance(now: sec(79)).isEmpty)
        #expect(Self.weights(m.advance(now: sec(80))) == [9500, 500])
        #expect(throws: RolloutRefusal.self) { try m.resume(now: sec(81)) }
    }

    @Test func promoteOneStepAndToFinal() throws {
        var m = RolloutStateMachine(route: Self.progressiveRoute(), targetNames: Self.names)
        _ = m.start(now: 0)
        #expect(Self.weights(try m.promote(toFinal: false, now: sec(1))) == [9500, 500])
        #expect(m.stepIndex == 1)
        // The next automatic step counts from the manual one.
        #expect(m.advance(now: sec(10)).isEmpty)
        #expect(Self.weights(m.advance(now: sec(11))) == [7500, 2500])

        // Promote while paused: one step, still paused.
        _ = try m.pause(now: sec(12))
        #expect(Self.weights(try m.promote(toFinal: false, now: sec(13))) == [5000, 5000])
        #expect(m.state == .paused)

        let final = try m.promote(toFinal: true, now: sec(14))
        #expect(Self.weights(final) == [0, 10_000])
        #expect(Self.events(final) == ["promotion"])
        #expect(m.state == .promoted)
        #expect(throws: RolloutRefusal.self) { try m.promote(toFinal: false, now: sec(15)) }
    }

    @Test func promoteWithoutProgressiveIsRefused() {
        var m = RolloutStateMachine(route: Self.canaryRoute(Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        #expect(m.state == .steady)
        #expect(throws: RolloutRefusal("route canary has no progressive rollout to promote")) {
            try m.promote(toFinal: false, now: 1)
        }
        #expect(throws: RolloutRefusal.self) { try m.pause(now: 1) }
        #expect(throws: RolloutRefusal.self) { try m.resume(now: 1) }
    }

    // MARK: Rollback

    @Test func rollbackTripsAfterConsecutiveBreaches() {
        var m = RolloutStateMachine(route: Self.canaryRoute(Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        #expect(!m.isEvaluationDue(now: sec(5) - 1))
        #expect(m.isEvaluationDue(now: sec(5)))
        let slow = Self.window(Self.healthyBaseline, Self.candidate(1840, p99Ms: 412))
        let first = m.evaluate(now: sec(5), windowSeconds: 60, figures: slow)
        #expect(first == [.log(warning: "route canary: v2 breached 1/3: p99 412ms > 250ms (window 60s, 1840 requests)")])
        #expect(m.consecutiveBreaches == [0, 1])
        #expect(!m.isEvaluationDue(now: sec(10) - 1))
        _ = m.evaluate(now: sec(10), windowSeconds: 60, figures: slow)
        #expect(m.state == .steady)
        let trip = m.evaluate(now: sec(15), windowSeconds: 60, figures: slow)
        let reason = "p99 412ms > 250ms in 3 consecutive evaluations (window 60s, 1840 requests)"
        #expect(trip.first == .setWeights([10_000, 0]))
        #expect(trip.contains(.event(type: "rollback", target: 1, reason: reason)))
        #expect(m.state == .rolledBack)
        #expect(m.reason == reason)
        #expect(m.weights == [10_000, 0])
        // Nothing left to evaluate.
        #expect(!m.isEvaluationDue(now: sec(100)))
    }

    @Test func errorRateReason() {
        let spec = RollbackSpec(windowSeconds: 10, evaluateEveryNanos: sec(1), minRequests: 100, maxErrorRate: 0.02, breachesToTrip: 3)
        var m = RolloutStateMachine(route: Self.canaryRoute(spec), targetNames: Self.names)
        _ = m.start(now: 0)
        let bad = Self.window(Self.healthyBaseline, Self.candidate(840, errors: 129))
        for i in 1...3 { _ = m.evaluate(now: sec(UInt64(i)), windowSeconds: 10, figures: bad) }
        #expect(m.reason == "error rate 0.154 > 0.02 in 3 consecutive evaluations (window 10s, 840 requests)")
    }

    @Test func boundaryIsNotABreach() {
        var m = RolloutStateMachine(route: Self.canaryRoute(Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        let atLimit = Self.window(Self.healthyBaseline, Self.candidate(1000, errors: 20, p99Ms: 250))
        for i in 1...10 { #expect(m.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: atLimit).isEmpty) }
        #expect(m.state == .steady)
        #expect(m.consecutiveBreaches == [0, 0])
    }

    @Test func minRequestsGatingNeitherCountsNorResets() {
        var m = RolloutStateMachine(route: Self.canaryRoute(Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        let bad = Self.window(Self.healthyBaseline, Self.candidate(500, errors: 100))
        let thin = Self.window(Self.healthyBaseline, Self.candidate(99, errors: 99))
        _ = m.evaluate(now: sec(5), windowSeconds: 60, figures: bad)
        _ = m.evaluate(now: sec(10), windowSeconds: 60, figures: bad)
        #expect(m.consecutiveBreaches[1] == 2)
        for i in 3...8 { _ = m.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: thin) }
        #expect(m.consecutiveBreaches[1] == 2)
        #expect(m.state == .steady)
        _ = m.evaluate(now: sec(45), windowSeconds: 60, figures: bad)
        #expect(m.state == .rolledBack)
    }

    @Test func healthyEvaluationResetsTheCounter() {
        var m = RolloutStateMachine(route: Self.canaryRoute(Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        let bad = Self.window(Self.healthyBaseline, Self.candidate(500, errors: 100))
        let good = Self.window(Self.healthyBaseline, Self.candidate(500, errors: 1))
        var t: UInt64 = 0
        for _ in 0..<5 {
            t += sec(5); _ = m.evaluate(now: t, windowSeconds: 60, figures: bad)
            t += sec(5); _ = m.evaluate(now: t, windowSeconds: 60, figures: bad)
            #expect(m.consecutiveBreaches[1] == 2)
            t += sec(5); _ = m.evaluate(now: t, windowSeconds: 60, figures: good)
            #expect(m.consecutiveBreaches[1] == 0)
        }
        #expect(m.state == .steady)
    }

    @Test func relativeToBaselineSuppressesFleetWideSlowdown() {
        var spec = Self.spec
        spec.relativeToBaseline = RelativeThresholds(p99Ratio: 1.5)
        var m = RolloutStateMachine(route: Self.canaryRoute(spec), targetNames: Self.names)
        _ = m.start(now: 0)
        let fleetSlow = Self.window(RolloutWindowFigures(requests: 9000, errors: 0, p99Micros: 380_000), Self.candidate(1000, p99Ms: 400))
        for i in 1...10 { _ = m.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: fleetSlow) }
        #expect(m.state == .steady)
        let candidateSlow = Self.window(RolloutWindowFigures(requests: 9000, errors: 0, p99Micros: 380_000), Self.candidate(1000, p99Ms: 600))
        for i in 11...13 { _ = m.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: candidateSlow) }
        #expect(m.state == .rolledBack)
        #expect(m.reason == "p99 600ms > 250ms and > 1.5x baseline p99 380ms in 3 consecutive evaluations (window 60s, 1000 requests)")
    }

    @Test func breachHoldsProgressionAndRollbackStopsIt() throws {
        var m = RolloutStateMachine(route: Self.progressiveRoute(rollback: Self.spec), targetNames: Self.names)
        let bad = Self.window(Self.healthyBaseline, Self.candidate(500, errors: 100))
        let good = Self.window(Self.healthyBaseline, Self.candidate(500))
        _ = m.start(now: 0)
        _ = m.evaluate(now: sec(5), windowSeconds: 60, figures: good)
        _ = m.evaluate(now: sec(10), windowSeconds: 60, figures: bad)
        #expect(m.advance(now: sec(10)).isEmpty, "the latest evaluation breached: the step waits")
        _ = m.evaluate(now: sec(15), windowSeconds: 60, figures: good)
        #expect(Self.weights(m.advance(now: sec(15))) == [9500, 500])
        for i in 4...6 { _ = m.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: bad) }
        #expect(m.state == .rolledBack)
        #expect(m.weights == [10_000, 0])
        #expect(m.advance(now: sec(1000)).isEmpty)
        #expect(throws: RolloutRefusal.self) { try m.promote(toFinal: false, now: sec(1000)) }
        #expect(throws: RolloutRefusal.self) { try m.pause(now: sec(1000)) }

        // Resume restarts from the first step, with fresh counters and a fresh window.
        let resumed = try m.resume(now: sec(2000))
        #expect(Self.weights(resumed) == [9900, 100])
        #expect(m.state == .progressing)
        #expect(m.reason == nil)
        #expect(m.consecutiveBreaches == [0, 0])
        #expect(m.evaluationWindowSeconds(now: sec(2000) + 1) == 1)
        #expect(m.evaluationWindowSeconds(now: sec(2010)) == 10)
        #expect(m.evaluationWindowSeconds(now: sec(2010) + 1) == 11)
        #expect(m.evaluationWindowSeconds(now: sec(3000)) == 60)
    }

    @Test func rollbackWhilePausedAndFromPromoted() {
        var m = RolloutStateMachine(route: Self.progressiveRoute(rollback: Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        _ = try? m.promote(toFinal: true, now: 1)
        #expect(m.state == .promoted)
        // Baseline has no traffic at 0 %: the absolute thresholds still apply.
        let bad = [RolloutWindowFigures(requests: 0, errors: 0, p99Micros: 0), Self.candidate(500, errors: 100)]
        for i in 1...3 { _ = m.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: bad) }
        #expect(m.state == .rolledBack)
        #expect(m.weights == [10_000, 0])

        // Paused routes are still evaluated and rolled back.
        var p = RolloutStateMachine(route: Self.progressiveRoute(rollback: Self.spec), targetNames: Self.names)
        _ = p.start(now: 0)
        _ = try? p.pause(now: 1)
        let slow = Self.window(Self.healthyBaseline, Self.candidate(500, p99Ms: 300))
        for i in 1...3 {
            #expect(p.isEvaluationDue(now: sec(5 * UInt64(i))))
            _ = p.evaluate(now: sec(5 * UInt64(i)), windowSeconds: 60, figures: slow)
        }
        #expect(p.state == .rolledBack)
        #expect(p.weights == [10_000, 0])
    }

    @Test func resumeRestoresConfiguredWeightsWithoutProgressive() throws {
        var m = RolloutStateMachine(route: Self.canaryRoute(Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        let rolled = try m.rollback(reason: "operator says so", now: sec(1))
        #expect(rolled == [.setWeights([10_000, 0]), .event(type: "rollback", target: nil, reason: "operator says so")])
        #expect(m.state == .rolledBack)
        #expect(throws: RolloutRefusal("route canary is already rolled_back")) { try m.rollback(reason: "again", now: sec(2)) }
        let resumed = try m.resume(now: sec(3))
        #expect(Self.weights(resumed) == [9000, 1000])
        #expect(m.state == .steady)
        // A baseline at 100 % has nothing to roll back.
        m.operatorSetWeights([10_000, 0], now: sec(4))
        #expect(throws: RolloutRefusal.self) { try m.rollback(reason: "x", now: sec(5)) }
    }

    @Test func operatorWeightsClearRolledBack() {
        var m = RolloutStateMachine(route: Self.progressiveRoute(rollback: Self.spec), targetNames: Self.names)
        _ = m.start(now: 0)
        _ = try? m.rollback(reason: "r", now: 1)
        m.operatorSetWeights([8000, 2000], now: sec(2))
        #expect(m.state == .steady)
        #expect(m.reason == nil)
        #expect(m.weights == [8000, 2000])
        #expect(m.advance(now: sec(100)).isEmpty, "operator weights stop the progression")
        // Still protected by rollback.
        #expect(m.isEvaluationDue(now: sec(7)))
    }

    // MARK: Reload carry-over

    @Test func reloadCarryOver() {
        let route = Self.canaryRoute(Self.spec)
        var m = RolloutStateMachine(route: route, targetNames: Self.names)
        _ = m.start(now: 0)
        _ = try? m.rollback(reason: "bad", now: 1)

        // Same route (even with different backend table indices): kept.
        var reindexed = route
        reindexed.targets[0].backend = 7
        reindexed.targets[1].backend = 3
        let kept = RolloutStateMachine(route: reindexed, targetNames: Self.names, carryingOver: m)
        #expect(kept.wasCarriedOver)
        #expect(kept.state == .rolledBack)
        #expect(kept.weights == [10_000, 0])
        #expect(kept.reason == "bad")
        #expect(kept.route == reindexed)

        // Changed threshold: fresh.
        var changed = route
        changed.rollback!.maxErrorRate = 0.05
        let fresh = RolloutStateMachine(route: changed, targetNames: Self.names, carryingOver: m)
        #expect(!fresh.wasCarriedOver)
        #expect(fresh.state == .steady)
        #expect(fresh.weights == [9000, 1000])
        #expect(!fresh.isStarted)

        // A different backend behind the candidate: fresh.
        let renamed = RolloutStateMachine(route: route, targetNames: ["v1", "v3"], carryingOver: m)
        #expect(!renamed.wasCarriedOver)

        // Changed configured weights: fresh.
        var reweighted = route
        reweighted.targets[0].weight = 8000
        reweighted.targets[1].weight = 2000
        #expect(!RolloutStateMachine(route: reweighted, targetNames: Self.names, carryingOver: m).wasCarriedOver)
    }

    @Test func tickEvaluatesThenAdvances() {
        let spec = RollbackSpec(windowSeconds: 5, evaluateEveryNanos: ms(500), minRequests: 10, maxErrorRate: 0.1, breachesToTrip: 2)
        var m = RolloutStateMachine(route: Self.progressiveRoute(rollback: spec), targetNames: Self.names)
        var asked: [Int] = []
        let bad = Self.window(Self.healthyBaseline, Self.candidate(100, errors: 50))
        _ = m.tick(now: sec(100)) { asked.append($0.seconds); return bad }
        #expect(asked.isEmpty, "no evaluation at start")
        _ = m.tick(now: sec(100) + ms(500)) { asked.append($0.seconds); return bad }
        _ = m.tick(now: sec(101)) { asked.append($0.seconds); return bad }
        #expect(asked == [1, 1])
        #expect(m.state == .rolledBack)
    }
}
