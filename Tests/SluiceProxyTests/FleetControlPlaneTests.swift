import Foundation
import SluiceConfig
import SluiceFleet
import SluiceProxy
import SluiceRouting
import Synchronization
import Testing

/// A committer that keeps the fleet state in memory with the same compare-and-swap rule as etcd (the
/// route's revision must be the proposal's base), for the control plane's side of the fleet. The real
/// store is exercised against a real etcd in the integration suites.
final class MemoryCommitter: FleetCommitter, Sendable {
    struct Store {
        var generation: UInt64 = 0
        var revision: Int64 = 0
        var routes: [String: (FleetRouteState, Int64)] = [:]
        var committed: [FleetProposal] = []
        var reachable = true
    }
    let store = Mutex(Store())

    func commit(_ proposal: FleetProposal) -> FleetCommitResult {
        store.withLock { s in
            guard s.reachable else { return .unavailable("etcd down (test)") }
            let current = s.routes[proposal.record.route]
            guard (current?.1 ?? 0) == proposal.baseRevision else { return .conflict(current?.0, revision: current?.1 ?? 0) }
            s.generation += 1
            s.revision += 1
            var record = proposal.record
            record.generation = s.generation
            s.routes[record.route] = (record, s.revision)
            s.committed.append(proposal)
            return .committed(record, revision: s.revision)
        }
    }
}

struct FleetControlPlaneTests {
    static let yaml = """
        listeners: [{ name: public, address: 127.0.0.1:0 }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }, { name: b, endpoints: [127.0.0.1:2] }]
        routes:
          - name: r
            match: { path_prefix: / }
            baseline: a
            targets: [{ backend: a, weight: 90 }, { backend: b, weight: 10 }]
        """

    /// A route whose first progressive step waits for approval.
    static let gatedYAML = yaml.replacingOccurrences(of: "targets: [{ backend: a, weight: 90 }, { backend: b, weight: 10 }]", with: """
        targets: [{ backend: a, weight: 100 }, { backend: b, weight: 0 }]
            progressive: { target: b, steps: [10, 50], interval: 1h, gates: [{ at: 10, approval: manual }] }
        """)

    static func plane(yaml: String = yaml, instance: String = "me", committer: MemoryCommitter = MemoryCommitter()) throws -> (ControlPlane, MemoryCommitter) {
        let config = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
        let control = try ControlPlane(config: config, configPath: nil, workers: 1)
        control.attachFleet(instance: instance, committer: committer, status: FleetStatus(name: "f", instance: instance))
        return (control, committer)
    }

    static func weights(_ c: ControlPlane) -> [Int] { c.currentSnapshot.table.routes[0].targets.map(\.weight) }

    @Test func operatorActionsWaitForEtcdThenGoThroughTheFleet() throws {
        let (control, committer) = try Self.plane()
        // Not connected yet: refused, nothing applied.
        #expect(throws: ControlError.self) { try control.setWeights(route: "r", weights: ["a": 50, "b": 50]) }
        #expect(Self.weights(control) == [9000, 1000])
        control.fleetSetMode(.connected)
        try control.setWeights(route: "r", weights: ["a": 50, "b": 50])
        #expect(Self.weights(control) == [5000, 5000])
        #expect(control.fleetGeneration(route: "r") == 1)
        #expect(committer.store.withLock { $0.committed.count } == 1)
        // A 409 from the machine is not written.
        #expect(throws: ControlError.self) { try control.resume(route: "r") }
        #expect(committer.store.withLock { $0.committed.count } == 1)
        // etcd refusing: 503 and the local state is unchanged.
        committer.store.withLock { $0.reachable = false }
        do {
            try control.rollback(route: "r", reason: "x")
            Issue.record("expected 503")
        } catch {
            #expect(error.status == 503)
        }
        #expect(Self.weights(control) == [5000, 5000])
    }

    @Test func aStaleProposalAdoptsTheNewerStateAndRetries() throws {
        let (control, committer) = try Self.plane()
        control.fleetSetMode(.connected)
        let infos = control.fleetRoutes()
        // Another replica wrote 70/30 that this one has not seen yet.
        let other = FleetRouteState(route: "r", definition: infos[0].definition, generation: 5, targets: ["a", "b"],
                                    weights: [7000, 3000], state: "steady", reason: nil, step: nil, stepStarted: 0,
                                    by: "other", event: "weight_change", cause: "operator")
        committer.store.withLock { $0.routes["r"] = (other, 9); $0.revision = 9; $0.generation = 5 }
        try control.rollback(route: "r", reason: "bad canary")
        #expect(Self.weights(control) == [10_000, 0])
        #expect(control.routeRuntime["r"]?.state == "rolled_back")
        #expect(control.fleetGeneration(route: "r") == 6)
        #expect(committer.store.withLock { $0.committed.map(\.baseRevision) } == [9])
    }

    @Test func aStateForAnotherDefinitionIsNotApplied() throws {
        let (control, _) = try Self.plane()
        control.fleetSetMode(.connected)
        let foreign = FleetRouteState(route: "r", definition: "0000000000000000", generation: 3, targets: ["a", "b"],
                                      weights: [0, 10_000], state: "steady", reason: nil, step: nil, stepStarted: 0,
                                      by: "old", event: "weight_change", cause: "operator")
        control.fleetAdopt(foreign, revision: 4)
        #expect(Self.weights(control) == [9000, 1000])
        #expect(control.fleetGeneration(route: "r") == nil)
        do {
            try control.setWeights(route: "r", weights: ["a": 50, "b": 50])
            Issue.record("expected 409")
        } catch {
            #expect(error.status == 409)
        }
        // An older revision of a matching state never replaces a newer one.
        let def = control.fleetRoutes()[0].definition
        var mine = foreign
        mine.definition = def
        mine.weights = [6000, 4000]
        control.fleetAdopt(mine, revision: 10)
        #expect(Self.weights(control) == [6000, 4000])
        mine.weights = [1000, 9000]
        control.fleetAdopt(mine, revision: 8)
        #expect(Self.weights(control) == [6000, 4000])
    }

    @Test func leaderWritesTheFirstStateFromItsConfigurationOnly() throws {
        let (control, _) = try Self.plane()
        control.fleetSetMode(.connected)
        let proposals = control.fleetLeaderTick(instance: "me") { _, _, n, _ in Array(repeating: RolloutWindowFigures(requests: 0, errors: 0, p99Micros: 0), count: n) }
        #expect(proposals.count == 1)
        #expect(proposals[0].record.event == "created")
        #expect(proposals[0].record.weights == [9000, 1000])
        #expect(proposals[0].fenced)
        control.fleetCommitted({ var r = proposals[0].record; r.generation = 1; return r }(), revision: 1)
        // Applied: no route without rules has anything more to write.
        #expect(control.fleetLeaderTick(instance: "me") { _, _, n, _ in Array(repeating: RolloutWindowFigures(requests: 0, errors: 0, p99Micros: 0), count: n) }.isEmpty)
    }

    /// The route events and webhooks an approval makes on a fleet replica: the same as standalone (`approval`
    /// then the step it lets through, notified `approved` then `step`) on the replica that approved, and the
    /// same route events, without webhooks, on a replica that applies the state from the fleet.
    @Test func anApprovalInAFleetIsRecordedAndNotifiedAsStandalone() throws {
        /// The notifications handed to `control`'s sink from now on (those queued before are dropped).
        func notified(_ control: ControlPlane) -> NotificationLog {
            let log = NotificationLog()
            control.setNotificationSink { n, _ in log.names.withLock { $0.append(n.event) } }
            log.names.withLock { $0 = [] }
            return log
        }
        func events(_ control: ControlPlane) -> [String] { control.routeRuntime["r"]?.events.map(\.type) ?? [] }

        let alone = try ControlPlane(config: ConfigLoader.parse(yaml: Self.gatedYAML, file: "t.yaml"), configPath: nil, workers: 1)
        #expect(alone.routeRuntime["r"]?.state == "awaiting_approval")
        let aloneNotified = notified(alone)
        try alone.approve(route: "r")
        #expect(aloneNotified.names.withLock { $0 } == ["approved", "step"])
        #expect(events(alone).suffix(2) == ["approval", "weight_change"])

        let (approver, committer) = try Self.plane(yaml: Self.gatedYAML)
        let (other, _) = try Self.plane(yaml: Self.gatedYAML, instance: "other", committer: committer)
        approver.fleetSetMode(.connected)
        other.fleetSetMode(.connected)
        let approverNotified = notified(approver)
        let otherNotified = notified(other)
        try approver.approve(route: "r")
        #expect(approverNotified.names.withLock { $0 } == aloneNotified.names.withLock { $0 })
        #expect(events(approver).suffix(2) == ["approval", "weight_change"])
        #expect(Self.weights(approver) == [9000, 1000])
        let written = try #require(committer.store.withLock { $0.routes["r"] })
        #expect(written.0.event == "weight_change")
        #expect(written.0.events?.map(\.event) == ["approval", "weight_change"])
        #expect(written.0.events?.map(\.target) == [1, 1])

        // The other replica applies it from the watch: the same route events, each with its target; no webhook.
        other.fleetAdopt(written.0, revision: written.1)
        #expect(Self.weights(other) == [9000, 1000])
        #expect(events(other).suffix(2) == ["approval", "weight_change"])
        #expect(other.routeRuntime["r"]?.events.suffix(2).map(\.target) == ["b", "b"])
        #expect(otherNotified.names.withLock { $0 }.isEmpty)

        // Weights set by an operator are recorded everywhere and notified nowhere, as standalone (no `step`).
        try alone.setWeights(route: "r", weights: ["a": 70, "b": 30])
        try approver.setWeights(route: "r", weights: ["a": 70, "b": 30])
        let weightsSet = try #require(committer.store.withLock { $0.routes["r"] })
        other.fleetAdopt(weightsSet.0, revision: weightsSet.1)
        for control in [alone, approver, other] {
            #expect(Self.weights(control) == [7000, 3000])
            #expect(events(control).last == "weight_change")
        }
        #expect(aloneNotified.names.withLock { $0 } == ["approved", "step"])
        #expect(approverNotified.names.withLock { $0 } == ["approved", "step"])
        #expect(otherNotified.names.withLock { $0 }.isEmpty)
    }
}

/// Notification names a test's sink received.
final class NotificationLog: Sendable {
    let names = Mutex<[String]>([])
}
