import SluiceConfig
import SluiceRouting
import Testing
@testable import SluiceSimulate

/// Whole simulations: the real rule engine on simulated traffic.
struct SimulationTests {
    /// Baseline 90 %, candidate 10 %, rollback `spec`.
    static func canary(_ spec: RollbackSpec) -> SimulatedRoute {
        let route = Route(name: "canary", pathPrefix: Array("/c".utf8), baseline: 0,
                          targets: [Target(backend: 0, weight: 9000), Target(backend: 1, weight: 1000)],
                          rollback: spec)
        return SimulatedRoute(route: route, targetNames: ["v1", "v2"], candidate: 1)
    }

    static func traffic(candidateErrors: Double, minutes: Int = 10, badFrom: Int = 0) throws -> TrafficModel {
        let latency = try LatencyDistribution.parse("lognormal:20ms,0.5")
        return TrafficModel(requestsPerSecond: 200, durationSeconds: minutes * 60,
                            baseline: BackendBehaviour(errorRate: 0.01, latency: latency),
                            candidate: BackendBehaviour(errorRate: candidateErrors, latency: latency),
                            badFromSecond: badFrom)
    }

    @Test func aVeryBadCandidateIsAlwaysRolledBackQuickly() throws {
        let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 200,
                                maxErrorRate: 0.02, breachesToTrip: 3)
        let plan = SimulationPlan(route: Self.canary(spec), traffic: try Self.traffic(candidateErrors: 0.5),
                                  runs: 40, seed: 1, threads: 2)
        let result = SimulationRunner.run(plan)
        let summary = SimulationSummary(result)
        #expect(summary.rollbacks.count == 40)
        // 20 req/s on the candidate: 200 requests (min_requests) by the evaluation at 10 s or 15 s, then
        // two more evaluations 5 s apart trip.
        let delays = try #require(summary.delays)
        #expect(delays.p50 >= 20 && delays.p99 <= 25, "detection delay p50 \(delays.p50)s p99 \(delays.p99)s")
        #expect(result.outcomes.allSatisfy { $0.finalState == .rolledBack && $0.reason?.contains("error rate") == true })
    }

    @Test func detectionDelayCountsFromWhenTheCandidateTurnsBad() throws {
        let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 200,
                                maxErrorRate: 0.1, breachesToTrip: 3)
        let plan = SimulationPlan(route: Self.canary(spec), traffic: try Self.traffic(candidateErrors: 0.5, badFrom: 30),
                                  runs: 40, seed: 1, threads: 2)
        let summary = SimulationSummary(SimulationRunner.run(plan))
        #expect(summary.rollbacks.count == 40 && summary.rollbacksBeforeBad == 0)
        // 600 healthy requests in the window at 30 s; 10 more errors a second cross 10 % after ~7 s,
        // so the evaluations at 40, 45 and 50 s breach: a delay of about 20 s.
        let delays = try #require(summary.delays)
        #expect(delays.p50 >= 15 && delays.p99 <= 25, "detection delay p50 \(delays.p50)s p99 \(delays.p99)s")
    }

    @Test func thresholdsThatCannotTripNeverRollBack() throws {
        let spec = RollbackSpec(windowSeconds: 30, evaluateEveryNanos: 5_000_000_000, minRequests: 10,
                                maxP99Micros: 60_000_000, maxErrorRate: 0.9, breachesToTrip: 1)
        let plan = SimulationPlan(route: Self.canary(spec), traffic: try Self.traffic(candidateErrors: 0.05),
                                  runs: 20, seed: 2, threads: 2)
        let summary = SimulationSummary(SimulationRunner.run(plan))
        #expect(summary.rollbacks.count == 0)
        #expect(summary.delays == nil)
        #expect(summary.finalStates.count == 1 && summary.finalStates[0].state == .steady && summary.finalStates[0].runs == 20)
        #expect(summary.requests > 20 * 600 * 190)
    }

    @Test func theSameSeedGivesTheSameRunsWhateverTheThreads() throws {
        let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 100,
                                breachesToTrip: 3, relativeToBaseline: RelativeThresholds(errorRateDelta: 0.005))
        let traffic = try Self.traffic(candidateErrors: 0.01, minutes: 5)
        let one = SimulationRunner.run(SimulationPlan(route: Self.canary(spec), traffic: traffic, runs: 24, seed: 99, threads: 1))
        let two = SimulationRunner.run(SimulationPlan(route: Self.canary(spec), traffic: traffic, runs: 24, seed: 99, threads: 3))
        #expect(one.outcomes == two.outcomes)
        let other = SimulationRunner.run(SimulationPlan(route: Self.canary(spec), traffic: traffic, runs: 24, seed: 100, threads: 2))
        #expect(one.outcomes.map(\.requests) != other.outcomes.map(\.requests))
    }

    @Test func aProgressiveRouteFromAConfigIsPromotedWhenThereAreNoRules() throws {
        let config = try ConfigLoader.load(path: Self.repoFile("config/full.yaml"))
        var simulated = try SimulatedRoute(config: config, routeName: "fraud-detector", shareBasisPoints: nil)
        #expect(simulated.targetNames[simulated.candidate] == "fraud-v2-4-0")
        simulated.route.rollback = nil
        let traffic = try Self.traffic(candidateErrors: 0.01, minutes: 45)
        let summary = SimulationSummary(SimulationRunner.run(SimulationPlan(route: simulated, traffic: traffic, runs: 3, seed: 1, threads: 1)))
        // Steps 1, 5, 25, 50, 100 % every 10 m: 100 % is applied 40 minutes in.
        #expect(summary.promotions == 3)
        #expect(summary.promotionTimes?.p50 == 40 * 60)
        #expect(summary.finalStates.map(\.state) == [.promoted])
    }

    @Test func setupRefusesWhatCannotBeSimulated() throws {
        let config = try ConfigLoader.load(path: Self.repoFile("config/full.yaml"))
        #expect(throws: SimulationSetupError.self) { try SimulatedRoute(config: config, routeName: "nope", shareBasisPoints: nil) }
        #expect(throws: SimulationSetupError.self) { try SimulatedRoute(config: config, routeName: "fraud-detector", shareBasisPoints: 500) }
        let canary = try ConfigLoader.load(path: Self.repoFile("config/canary.yaml"))
        #expect(throws: SimulationSetupError.self) { try SimulatedRoute(config: canary, routeName: nil, shareBasisPoints: nil) }
        let shared = try SimulatedRoute(config: canary, routeName: "fraud-detector", shareBasisPoints: 500)
        #expect(shared.route.targets.map(\.weight) == [9500, 500])
    }

    @Test func reportsLabelHealthyAndBadCandidates() throws {
        let spec = RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 100, maxErrorRate: 0.02)
        let healthy = SimulationRunner.run(SimulationPlan(route: Self.canary(spec), traffic: try Self.traffic(candidateErrors: 0.01, minutes: 2),
                                                          runs: 4, seed: 1, threads: 1))
        let table = SimulationReport.table(healthy)
        #expect(table.contains("false-rollback rate") && table.contains("time to false rollback") && table.contains("wall time"))
        let bad = SimulationRunner.run(SimulationPlan(route: Self.canary(spec), traffic: try Self.traffic(candidateErrors: 0.2, minutes: 2),
                                                      runs: 4, seed: 1, threads: 1))
        #expect(SimulationReport.table(bad).contains("detection delay"))
        let json = SimulationReport.json(bad)
        #expect(json.contains("\"rollbacks\": 4") && json.contains("\"detection_delay_seconds\": {"))
    }

    @Test func wilsonIntervalMatchesKnownValues() {
        // 0 of 1000: upper bound z²/(n + z²) ≈ 0.003827.
        let zero = Proportion(count: 0, total: 1000).wilson95
        #expect(zero.lowerBound == 0 && abs(zero.upperBound - 0.003827) < 1e-5)
        // 10 of 100: 0.05522 – 0.17436.
        let ten = Proportion(count: 10, total: 100).wilson95
        #expect(abs(ten.lowerBound - 0.05522) < 1e-4 && abs(ten.upperBound - 0.17436) < 1e-4)
    }

    /// Absolute path of `relative` in the repository.
    static func repoFile(_ relative: String, file: String = #filePath) -> String {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)   // Tests/SluiceSimulateTests/SimulationTests.swift
        return parts.joined(separator: "/") + "/" + relative
    }
}
