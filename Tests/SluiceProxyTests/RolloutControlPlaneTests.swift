import Foundation
import Glibc
import Synchronization
import Testing
import SluiceConfig
import SluiceProxy

/// Monotonic seconds on the clock the stats windows use (CLOCK_MONOTONIC).
private func nowSecond() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec)
}

private func sleepMillis(_ ms: UInt32) { usleep(ms * 1000) }

/// Control-plane wiring of the rollout controller: configs parsed from YAML, synthetic responses recorded
/// straight into the stats, `tick()` driven by hand. Backends listen nowhere; nothing connects.
struct RolloutControlPlaneTests {
    static func yaml(maxErrorRate: String = "0.05", extraRoute: String = "") -> String {
        """
        listeners:
          - name: public
            address: 127.0.0.1:0
        backends:
          - { name: a, endpoints: [127.0.0.1:1] }
          - { name: b, endpoints: [127.0.0.1:2] }
        routes:
          - name: canary
            match: { path_prefix: /canary }
            baseline: a
            targets:
              - { backend: a, weight: 90 }
              - { backend: b, weight: 10 }
            rollback:
              window: 1s
              evaluate_every: 100ms
              min_requests: 10
              max_error_rate: \(maxErrorRate)
              breaches_to_trip: 3
          - name: plain
            match: { path_prefix: /plain }
            baseline: a
            targets:
              - { backend: a, weight: 50 }
              - { backend: b, weight: 50 }
        \(extraRoute)
        """
    }

    static let progressiveRoute = """
          - name: rollout
            match: { path_prefix: /rollout }
            baseline: a
            targets:
              - { backend: a, weight: 100 }
              - { backend: b, weight: 0 }
            progressive: { target: b, steps: [10, 50, 100], interval: 100ms }
        """

    static func control(_ yaml: String) throws -> ControlPlane {
        try ControlPlane(config: ConfigLoader.parse(yaml: yaml, file: "test.yaml"), configPath: nil, workers: 1)
    }

    /// Records `errors` failed and `ok` good responses of route `route`: errors to target 1, good ones to target 0.
    static func record(_ control: ControlPlane, route: Int = 0, errors: Int, ok: Int) {
        let stats = control.currentSnapshot.targetStats[route]
        for _ in 0..<errors {
            stats[1].recordResponse(worker: 0, nowSecond: nowSecond(), status: 500, isError: true, latencyMicros: 1000)
        }
        for _ in 0..<ok {
            stats[0].recordResponse(worker: 0, nowSecond: nowSecond(), status: 200, isError: false, latencyMicros: 1000)
        }
    }

    /// Ticks every 110 ms while recording failures on the candidate, until the route rolls back (or ~3 s).
    static func driveToRollback(_ control: ControlPlane) -> Bool {
        for _ in 0..<28 {
            record(control, errors: 20, ok: 50)
            control.tick()
            if control.routeRuntime["canary"]?.state == "rolled_back" { return true }
            sleepMillis(110)
        }
        return false
    }

    @Test func errorsTripAnAutomaticRollback() throws {
        let control = try Self.control(Self.yaml())
        control.tick()
        #expect(control.routeRuntime["canary"]?.state == "steady")
        #expect(control.currentSnapshot.table.weights(route: 0) == [9000, 1000])

        #expect(Self.driveToRollback(control))
        #expect(control.currentSnapshot.table.weights(route: 0) == [10_000, 0])
        let runtime = try #require(control.routeRuntime["canary"])
        #expect(runtime.state == "rolled_back")
        let reason = try #require(runtime.reason)
        #expect(reason.hasPrefix("error rate 1 > 0.05 in 3 consecutive evaluations (window 1s, "), "\(reason)")
        let event = try #require(runtime.events.last { $0.type == "rollback" })
        #expect(event.target == "b")
        #expect(event.reason == reason)
        #expect(control.currentSnapshot.global.value(.rollbacks) == 1)
        // The untouched route is unaffected.
        #expect(control.routeRuntime["plain"]?.state == "steady")
        #expect(control.currentSnapshot.table.weights(route: 1) == [5000, 5000])

        // Sticky: further ticks keep it rolled back.
        for _ in 0..<3 {
            Self.record(control, errors: 0, ok: 50)
            control.tick()
        }
        #expect(control.routeRuntime["canary"]?.state == "rolled_back")
        #expect(control.currentSnapshot.table.weights(route: 0) == [10_000, 0])
        #expect(control.currentSnapshot.global.value(.rollbacks) == 1)
    }

    @Test func reloadKeepsAnUnchangedRolledBackRouteAndResetsAChangedOne() throws {
        let control = try Self.control(Self.yaml())
        #expect(Self.driveToRollback(control))

        // Same config: still rolled back, weight 0 re-applied over the configured 10 %.
        _ = try control.apply(ConfigLoader.parse(yaml: Self.yaml(), file: "test.yaml"))
        control.tick()
        #expect(control.routeRuntime["canary"]?.state == "rolled_back")
        #expect(control.currentSnapshot.table.weights(route: 0) == [10_000, 0])
        #expect(control.rolloutMachine(route: "canary")?.wasCarriedOver == true)

        // Changed route: fresh controller, configured weights.
        _ = try control.apply(ConfigLoader.parse(yaml: Self.yaml(maxErrorRate: "0.5"), file: "test.yaml"))
        control.tick()
        #expect(control.routeRuntime["canary"]?.state == "steady")
        #expect(control.routeRuntime["canary"]?.reason == nil)
        #expect(control.currentSnapshot.table.weights(route: 0) == [9000, 1000])
    }

    @Test func progressiveRouteIsPromoted() throws {
        let control = try Self.control(Self.yaml(extraRoute: Self.progressiveRoute))
        control.tick()
        #expect(control.routeRuntime["rollout"]?.state == "progressing")
        #expect(control.currentSnapshot.table.weights(route: 2) == [9000, 1000])
        var weights: [[Int]] = []
        for _ in 0..<20 where control.routeRuntime["rollout"]?.state != "promoted" {
            sleepMillis(110)
            control.tick()
            weights.append(control.currentSnapshot.table.weights(route: 2))
        }
        #expect(control.routeRuntime["rollout"]?.state == "promoted")
        #expect(weights.contains([5000, 5000]))
        #expect(control.currentSnapshot.table.weights(route: 2) == [0, 10_000])
        let types = control.routeRuntime["rollout"]?.events.map(\.type) ?? []
        #expect(types == ["weight_change", "weight_change", "promotion"])
    }

    @Test func operatorActions() throws {
        let control = try Self.control(Self.yaml(extraRoute: Self.progressiveRoute))
        control.tick()

        #expect(throws: ControlError.self) { try control.pause(route: "nope") }
        do { try control.resume(route: "nope") } catch { #expect(error.status == 404) }
        // No progressive rollout: 409.
        do {
            try control.promote(route: "canary", toFinal: false)
            Issue.record("promote of a route without progressive succeeded")
        } catch { #expect(error.status == 409) }
        do {
            try control.resume(route: "canary")
            Issue.record("resume of a steady route succeeded")
        } catch { #expect(error.status == 409) }

        // pause / resume / promote.
        try control.pause(route: "rollout")
        #expect(control.routeRuntime["rollout"]?.state == "paused")
        sleepMillis(150)
        control.tick()
        #expect(control.currentSnapshot.table.weights(route: 2) == [9000, 1000], "no step while paused")
        try control.promote(route: "rollout", toFinal: false)
        #expect(control.currentSnapshot.table.weights(route: 2) == [5000, 5000])
        #expect(control.routeRuntime["rollout"]?.state == "paused")
        try control.resume(route: "rollout")
        #expect(control.routeRuntime["rollout"]?.state == "progressing")
        try control.promote(route: "rollout", toFinal: true)
        #expect(control.routeRuntime["rollout"]?.state == "promoted")
        #expect(control.currentSnapshot.table.weights(route: 2) == [0, 10_000])

        // Operator rollback, then resume restarts the progression from the first step.
        try control.rollback(route: "rollout", reason: "bad predictions")
        #expect(control.routeRuntime["rollout"]?.state == "rolled_back")
        #expect(control.routeRuntime["rollout"]?.reason == "bad predictions")
        #expect(control.currentSnapshot.table.weights(route: 2) == [10_000, 0])
        #expect(control.currentSnapshot.global.value(.rollbacks) == 0, "only automatic rollbacks are counted")
        do {
            try control.rollback(route: "rollout", reason: "again")
            Issue.record("second rollback succeeded")
        } catch { #expect(error.status == 409) }
        try control.resume(route: "rollout")
        #expect(control.routeRuntime["rollout"]?.state == "progressing")
        #expect(control.currentSnapshot.table.weights(route: 2) == [9000, 1000])

        // Operator weights clear rolled_back, and the controller agrees.
        try control.rollback(route: "canary", reason: "manual")
        #expect(control.currentSnapshot.table.weights(route: 0) == [10_000, 0])
        try control.setWeights(route: "canary", weights: ["a": 80, "b": 20])
        control.tick()
        #expect(control.routeRuntime["canary"]?.state == "steady")
        #expect(control.rolloutMachine(route: "canary")?.state == .steady)
        #expect(control.rolloutMachine(route: "canary")?.weights == [8000, 2000])
        #expect(control.currentSnapshot.table.weights(route: 0) == [8000, 2000])
        // Operator weights stop a progression.
        try control.setWeights(route: "rollout", weights: ["a": 70, "b": 30])
        sleepMillis(150)
        control.tick()
        #expect(control.routeRuntime["rollout"]?.state == "steady")
        #expect(control.currentSnapshot.table.weights(route: 2) == [7000, 3000])
    }

    @Test func gateApprovalDryRunAndNotifications() throws {
        let gated = """
              - name: gated
                match: { path_prefix: /gated }
                baseline: a
                targets:
                  - { backend: a, weight: 100 }
                  - { backend: b, weight: 0 }
                progressive: { target: b, steps: [10, 50, 100], interval: 100ms, gates: [{ at: 50, approval: manual }] }
            """
        let dry = Self.yaml(extraRoute: gated).replacingOccurrences(of: "breaches_to_trip: 3", with: "breaches_to_trip: 3\n      dry_run: true")
        let control = try Self.control(dry)
        let received = Mutex<[RouteNotification]>([])
        control.setNotificationSink { n, config in
            #expect(config.routeTable.routes.count == 3)
            received.withLock { $0.append(n) }
        }
        control.tick()
        #expect(control.currentSnapshot.table.weights(route: 2) == [9000, 1000])
        for _ in 0..<10 where control.routeRuntime["gated"]?.state != "awaiting_approval" {
            sleepMillis(110)
            control.tick()
        }
        #expect(control.routeRuntime["gated"]?.state == "awaiting_approval")
        #expect(control.currentSnapshot.table.weights(route: 2) == [9000, 1000])
        try control.approve(route: "gated")
        #expect(control.routeRuntime["gated"]?.state == "progressing")
        #expect(control.currentSnapshot.table.weights(route: 2) == [5000, 5000])
        do {
            try control.approve(route: "gated")
            Issue.record("a second approval succeeded")
        } catch { #expect(error.status == 409) }

        // Dry run: the failing canary would be rolled back, but keeps its 10 %.
        var tripped = false
        for _ in 0..<28 where !tripped {
            Self.record(control, errors: 20, ok: 50)
            control.tick()
            tripped = control.routeRuntime["canary"]?.wouldRollBack.isEmpty == false
            sleepMillis(110)
        }
        #expect(tripped)
        #expect(control.routeRuntime["canary"]?.state == "steady")
        #expect(control.currentSnapshot.table.weights(route: 0) == [9000, 1000])
        #expect(control.currentSnapshot.global.value(.dryRunRollbacks) >= 1)
        #expect(control.currentSnapshot.global.value(.rollbacks) == 0)
        let evaluation = try #require(control.routeRuntime["canary"]?.evaluation)
        #expect(evaluation.targets.first?.outcome == .wouldRollBack || evaluation.targets.first?.outcome == .breached)

        let events = received.withLock { $0 }
        // The first step happened before the sink was set; the route then runs to 100 % on time.
        #expect(events.map(\.event).filter { $0 != "would_roll_back" } == ["awaiting_approval", "approved", "step", "promoted"])
        let would = try #require(events.first { $0.event == "would_roll_back" })
        #expect(would.route == "canary")
        #expect(would.target == "b")
        #expect(would.reason.hasPrefix("dry run: error rate 1 > 0.05"))
        #expect(would.evaluation?.targets.first?.checks.first?.name == "max_error_rate")
        #expect(would.targetNames == ["a", "b"])
    }
}
