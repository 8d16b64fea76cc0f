import Testing
import SluiceStats
@testable import SluiceRouting

/// Per-second traffic of a route's targets, answering the machine's range reads exactly.
struct RecordedTraffic {
    /// seconds[s][t] = (requests, errors, histogram)
    var seconds: [UInt64: [RolloutWindowFigures]] = [:]
    let targets: Int

    init(targets: Int) { self.targets = targets }

    /// Records `requests` on target `t` in second `s`, `errors` of them errors, all with latency `micros`.
    mutating func record(second s: UInt64, target t: Int, requests: UInt64, errors: UInt64, micros: UInt64) {
        var row = seconds[s] ?? Array(repeating: Self.empty, count: targets)
        var h = row[t].latencyHistogram
        h[LatencyBuckets.index(micros: micros)] += requests
        row[t] = RolloutWindowFigures(requests: row[t].requests + requests, errors: row[t].errors + errors, latencyHistogram: h)
        seconds[s] = row
    }

    static let empty = RolloutWindowFigures(requests: 0, errors: 0, latencyHistogram: Array(repeating: 0, count: LatencyBuckets.count))

    /// Sums of every target over `range`.
    func read(_ range: RolloutWindowRange) -> [RolloutWindowFigures] {
        var out = Array(repeating: Self.empty, count: targets)
        let first = range.endSecond + 1 - UInt64(range.seconds)
        for s in first...range.endSecond {
            guard let row = seconds[s] else { continue }
            for t in 0..<targets {
                var h = out[t].latencyHistogram
                for i in h.indices where row[t].latencyHistogram[i] != 0 { h[i] += row[t].latencyHistogram[i] }
                out[t] = RolloutWindowFigures(requests: out[t].requests + row[t].requests, errors: out[t].errors + row[t].errors,
                                              latencyHistogram: h)
            }
        }
        return out
    }
}

private func sec(_ s: UInt64) -> UInt64 { s * 1_000_000_000 }

struct RolloutVerdictTests {
    static let names = ["v1", "v2"]

    static func canary(_ spec: RollbackSpec) -> Route {
        Route(name: "canary", pathPrefix: Array("/c".utf8), baseline: 0,
              targets: [Target(backend: 0, weight: 9500), Target(backend: 1, weight: 500)], rollback: spec)
    }

    static func sequentialSpec(dryRun: Bool = false) -> RollbackSpec {
        RollbackSpec(windowSeconds: 30, evaluateEveryNanos: sec(5), minRequests: 50, breachesToTrip: 3,
                     relativeToBaseline: RelativeThresholds(method: .sequential, alpha: 0.05), dryRun: dryRun)
    }

    /// Runs `seconds` seconds of traffic from `from` (200 req/s split by the machine's weights) with the given
    /// error rates (every `1/rate`-th request an error, deterministic) and latencies; ticks once per second.
    static func run(_ m: inout RolloutStateMachine, _ traffic: inout RecordedTraffic, from: UInt64, seconds: UInt64,
                    errorEvery: [UInt64], micros: [UInt64]) -> [RolloutAction] {
        var actions: [RolloutAction] = []
        for s in from..<(from + seconds) {
            for t in 0..<2 {
                let requests = UInt64(200 * m.weights[t] / 10_000)
                let errors = errorEvery[t] == 0 ? 0 : (requests * (s + 1) / errorEvery[t]) - (requests * s / errorEvery[t])
                traffic.record(second: s, target: t, requests: requests, errors: errors, micros: micros[t])
            }
            let snapshot = traffic
            actions += m.tick(now: sec(s + 1)) { snapshot.read($0) }
        }
        return actions
    }

    @Test func sequentialKeepsAHealthyCandidateAndRollsBackABadOne() {
        var m = RolloutStateMachine(route: Self.canary(Self.sequentialSpec()), targetNames: Self.names)
        var traffic = RecordedTraffic(targets: 2)
        _ = m.start(now: sec(0))
        // 10 minutes, both at 1 % errors and 20 ms.
        let healthy = Self.run(&m, &traffic, from: 0, seconds: 600, errorEvery: [100, 100], micros: [20_000, 20_000])
        #expect(m.state == .steady)
        #expect(!healthy.contains { if case .event("rollback", _, _) = $0 { return true } else { return false } })
        let e = try! #require(m.lastEvaluation)
        #expect(e.outcome == .passed)
        #expect(e.targets.first?.checks.map(\.name) == ["sequential_errors", "sequential_latency"])
        #expect(e.latencyThresholdMicros != nil)

        // Then the candidate fails 3 % more: rolled back, with the test's numbers in the reason.
        let bad = Self.run(&m, &traffic, from: 600, seconds: 600, errorEvery: [100, 25], micros: [20_000, 20_000])
        #expect(m.state == .rolledBack)
        #expect(m.weights == [10_000, 0])
        let reason = try! #require(m.reason)
        #expect(reason.hasPrefix("sequential test: errors likelihood ratio"), "\(reason)")
        #expect(bad.contains(.setWeights([10_000, 0])))
    }

    @Test func sequentialCatchesASlowerCandidate() {
        var m = RolloutStateMachine(route: Self.canary(Self.sequentialSpec()), targetNames: Self.names)
        var traffic = RecordedTraffic(targets: 2)
        _ = m.start(now: sec(0))
        // Baseline latencies spread over 10..29 ms so that its p90 is a real threshold; candidate always 40 ms.
        var actions: [RolloutAction] = []
        for s in UInt64(0)..<300 {
            for i in UInt64(0)..<20 { traffic.record(second: s, target: 0, requests: 9 + (i == 0 ? 10 : 0), errors: 0, micros: 10_000 + i * 1000) }
            traffic.record(second: s, target: 1, requests: m.weights[1] > 0 ? 10 : 0, errors: 0, micros: 40_000)
            let snapshot = traffic
            actions += m.tick(now: sec(s + 1)) { snapshot.read($0) }
            if m.state == .rolledBack { break }
        }
        #expect(m.state == .rolledBack)
        #expect(m.reason?.contains("slower than") == true, "\(m.reason ?? "")")
    }

    @Test func aFixedLatencyThresholdIsUsedFromTheStart() {
        var spec = Self.sequentialSpec()
        spec.relativeToBaseline?.latencyThreshold = .micros(30_000)
        var m = RolloutStateMachine(route: Self.canary(spec), targetNames: Self.names)
        var traffic = RecordedTraffic(targets: 2)
        _ = m.start(now: sec(0))
        _ = Self.run(&m, &traffic, from: 0, seconds: 120, errorEvery: [0, 0], micros: [20_000, 40_000])
        #expect(m.state == .rolledBack)
        #expect(m.reason?.contains("slower than 30ms") == true, "\(m.reason ?? "")")
        #expect(m.lastEvaluation?.latencyThresholdMicros == 30_000)
    }

    @Test func dryRunReportsButMovesNothing() {
        var spec = Self.sequentialSpec(dryRun: true)
        spec.maxErrorRate = 0.02
        var m = RolloutStateMachine(route: Self.canary(spec), targetNames: Self.names)
        var traffic = RecordedTraffic(targets: 2)
        _ = m.start(now: sec(0))
        let actions = Self.run(&m, &traffic, from: 0, seconds: 120, errorEvery: [100, 10], micros: [20_000, 20_000])
        #expect(m.state == .steady)
        #expect(m.weights == [9500, 500])
        #expect(!actions.contains { if case .setWeights = $0 { return true } else { return false } })
        let would = actions.compactMap { if case .event("would_roll_back", let t, let r) = $0 { return (t, r) } else { return nil } }
        #expect(!would.isEmpty)
        #expect(would.allSatisfy { $0.0 == 1 && $0.1.hasPrefix("dry run: ") })
        #expect(m.wouldRollBack[1] != nil)
        #expect(m.lastEvaluation?.targets.first?.checks.contains { $0.name == "max_error_rate" && $0.breached } == true)
    }

    static func progressive(_ spec: RollbackSpec?, gates: [Int] = [], requireEvidence: Bool = true) -> Route {
        Route(name: "fraud", pathPrefix: Array("/v1".utf8), baseline: 0,
              targets: [Target(backend: 0, weight: 10_000), Target(backend: 1, weight: 0)],
              progressive: ProgressiveSpec(target: 1, steps: [1000, 2500, 5000, 10_000], intervalNanos: sec(60),
                                           gates: gates, requireEvidence: requireEvidence),
              rollback: spec)
    }

    static let absolute = RollbackSpec(windowSeconds: 30, evaluateEveryNanos: sec(5), minRequests: 100, maxErrorRate: 0.05)

    @Test func noTrafficHoldsTheStepAndSaysSoOnce() {
        var m = RolloutStateMachine(route: Self.progressive(Self.absolute), targetNames: Self.names)
        _ = m.start(now: sec(0))
        var actions: [RolloutAction] = []
        for s in UInt64(1)...300 { actions += m.tick(now: sec(s)) { _ in [RecordedTraffic.empty, RecordedTraffic.empty] } }
        #expect(m.weights == [9000, 1000], "still at the first step after 5 intervals without traffic")
        #expect(m.state == .progressing)
        let held = actions.compactMap { if case .event("inconclusive", _, let r) = $0 { return r } else { return nil } }
        #expect(held.count == 1)
        #expect(held.first?.contains("at least 100 requests") == true)
        #expect(m.lastEvaluation?.outcome == .inconclusive)

        // Traffic arrives: the next passing evaluation is the evidence, and the step follows.
        var traffic = RecordedTraffic(targets: 2)
        _ = Self.run(&m, &traffic, from: 300, seconds: 10, errorEvery: [0, 0], micros: [1000, 1000])
        #expect(m.weights == [7500, 2500])
    }

    @Test func withoutEvidenceRequiredTimeAloneAdvances() {
        var m = RolloutStateMachine(route: Self.progressive(Self.absolute, requireEvidence: false), targetNames: Self.names)
        _ = m.start(now: sec(0))
        for s in UInt64(1)...61 { _ = m.tick(now: sec(s)) { _ in [RecordedTraffic.empty, RecordedTraffic.empty] } }
        #expect(m.weights == [7500, 2500])
    }

    @Test func aGateWaitsForApproval() throws {
        var m = RolloutStateMachine(route: Self.progressive(nil, gates: [5000]), targetNames: Self.names)
        _ = m.start(now: sec(0))
        _ = m.advance(now: sec(60))
        #expect(m.weights == [7500, 2500])
        let waiting = m.advance(now: sec(120))
        #expect(m.state == .awaitingApproval)
        #expect(waiting == [.event(type: "awaiting_approval", target: 1, reason: "step to 50% (step 3 of 4) waits for approval")])
        #expect(m.advance(now: sec(10_000)).isEmpty, "time alone never passes a gate")
        #expect(m.weights == [7500, 2500])
        #expect(throws: RolloutRefusal.self) { _ = try m.pause(now: sec(10_001)) }

        let approved = try m.approve(now: sec(10_002))
        #expect(approved.first == .event(type: "approval", target: 1, reason: "operator approved the step to 50%"))
        #expect(m.weights == [5000, 5000])
        #expect(m.state == .progressing)
        #expect(throws: RolloutRefusal.self) { _ = try m.approve(now: sec(10_003)) }
        _ = m.advance(now: sec(10_062))
        #expect(m.state == .promoted)
    }

    @Test func aGateOnTheFirstStepWaitsBeforeAnyTraffic() throws {
        var m = RolloutStateMachine(route: Self.progressive(nil, gates: [1000]), targetNames: Self.names)
        _ = m.start(now: sec(0))
        #expect(m.state == .awaitingApproval)
        #expect(m.weights == [10_000, 0])
        _ = try m.approve(now: sec(1))
        #expect(m.weights == [9000, 1000])
    }

    @Test func promoteAlsoPassesAGate() throws {
        var m = RolloutStateMachine(route: Self.progressive(nil, gates: [2500]), targetNames: Self.names)
        _ = m.start(now: sec(0))
        _ = m.advance(now: sec(60))
        #expect(m.state == .awaitingApproval)
        _ = try m.promote(toFinal: false, now: sec(61))
        #expect(m.weights == [7500, 2500])
        #expect(m.state == .progressing)
    }
}
