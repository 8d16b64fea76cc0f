import Testing
@testable import SluiceRouting

/// The rollout machine as a fleet replica uses it: adopting the fleet's state, and ticking without steps
/// while cut off from etcd (the safety valve).
struct RolloutFleetAdoptionTests {
    static func sec(_ s: UInt64) -> UInt64 { s * 1_000_000_000 }

    static let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: sec(5), minRequests: 100,
                                   maxP99Micros: 250_000, maxErrorRate: 0.02, breachesToTrip: 1)

    static func route(rollback: RollbackSpec? = nil) -> Route {
        Route(name: "fraud", pathPrefix: Array("/v1".utf8), baseline: 0,
              targets: [Target(backend: 0, weight: 10_000), Target(backend: 1, weight: 0)],
              progressive: ProgressiveSpec(target: 1, steps: [100, 500, 2500, 10_000], intervalNanos: sec(10)),
              rollback: rollback)
    }

    @Test func adoptedStepContinuesTheFleetsInterval() {
        var m = RolloutStateMachine(route: Self.route(), targetNames: ["v1", "v2"])
        _ = m.start(now: Self.sec(100))
        // The fleet is at step 2 (5 %), which started 7 s ago: the next step is due in 3 s, not 10 s.
        m.adoptFleetState(weights: [9500, 500], state: .progressing, reason: nil, stepIndex: 1,
                          stepStartedAt: Self.sec(93), now: Self.sec(100))
        #expect(m.weights == [9500, 500])
        #expect(m.stepIndex == 1)
        #expect(m.advance(now: Self.sec(102)).isEmpty)
        let step = m.advance(now: Self.sec(103))
        #expect(step.contains(.setWeights([7500, 2500])))
        #expect(m.stepIndex == 2)
    }

    @Test func adoptingTheSameStateKeepsCountersAndAnotherStateRestartsThem() {
        var m = RolloutStateMachine(route: Self.route(rollback: Self.spec), targetNames: ["v1", "v2"])
        _ = m.start(now: Self.sec(100))
        let at = m.lastStepAt
        let evaluatedAt = m.lastEvaluationAt
        m.adoptFleetState(weights: m.weights, state: m.state, reason: nil, stepIndex: m.stepIndex, stepStartedAt: at, now: Self.sec(104))
        #expect(m.lastEvaluationAt == evaluatedAt, "the same state does not restart the evaluation")
        m.adoptFleetState(weights: [10_000, 0], state: .rolledBack, reason: "r", stepIndex: nil, stepStartedAt: at, now: Self.sec(105))
        #expect(m.state == .rolledBack)
        #expect(m.reason == "r")
        #expect(m.lastEvaluationAt == Self.sec(105))
        // Wrong target count: ignored.
        m.adoptFleetState(weights: [1, 2, 3], state: .steady, reason: nil, stepIndex: nil, stepStartedAt: 0, now: Self.sec(106))
        #expect(m.state == .rolledBack)
    }

    @Test func withoutAdvancingRulesStillRollBackButNoStepIsTaken() {
        var m = RolloutStateMachine(route: Self.route(rollback: Self.spec), targetNames: ["v1", "v2"])
        _ = m.start(now: Self.sec(100))
        let healthy: (RolloutWindowRange) -> [RolloutWindowFigures] = { _ in
            [RolloutWindowFigures(requests: 1000, errors: 0, p99Micros: 1000), RolloutWindowFigures(requests: 200, errors: 0, p99Micros: 1000)]
        }
        // Long past the interval, healthy: no step without advancing.
        let held = m.tick(now: Self.sec(200), advancing: false, figures: healthy)
        #expect(held.allSatisfy { if case .setWeights = $0 { false } else { true } })
        #expect(m.stepIndex == 0)
        let failing: (RolloutWindowRange) -> [RolloutWindowFigures] = { _ in
            [RolloutWindowFigures(requests: 1000, errors: 0, p99Micros: 1000), RolloutWindowFigures(requests: 200, errors: 100, p99Micros: 1000)]
        }
        let tripped = m.tick(now: Self.sec(210), advancing: false, figures: failing)
        #expect(tripped.contains(.setWeights([10_000, 0])))
        #expect(m.state == .rolledBack)
    }
}
