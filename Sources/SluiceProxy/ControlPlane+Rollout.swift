import Logging
import SluiceCore
import SluiceConfig
import SluiceFleet
import SluiceRouting
import SluiceStats

/// Logger of the rollout controller (breaches, automatic rollbacks).
let controllerLogger = Logger(label: "sluice.controller")

/// Events kept per route.
private let maxRouteEvents = 50

extension ControlPlane {
    /// Periodic controller work (progressive steps, rollback evaluation); called every ~200 ms by the
    /// supervisor. Everything happens under the state lock; weight changes are published as new snapshots.
    public func tick() {
        tick(now: MonotonicClock.now())
    }

    /// ``tick()`` at monotonic time `now` (nanoseconds, `MonotonicClock`'s origin).
    func tick(now: UInt64) {
        state.withLock { s in
            syncRollout(&s, now: now)
            // A connected fleet replica neither judges nor steps here: the leader does, on fleet-wide numbers.
            // Disconnected, the rollback rules still act on local numbers (the safety valve), but no step is taken.
            if s.fleet.mode == .connected { return }
            let advancing = s.fleet.mode == .standalone
            for r in s.snapshot.table.routes.indices {
                let name = s.snapshot.table.routes[r].name
                guard var machine = s.rollout[name], machine.isActive else { continue }
                let stats = s.snapshot.targetStats[r]
                let wasRolledBack = machine.state == .rolledBack
                let actions = machine.tick(now: now, advancing: advancing) { range in
                    stats.map { Self.figures($0.windowSnapshot(nowSecond: range.endSecond, windowSeconds: range.seconds)) }
                }
                s.rollout[name] = machine
                if !advancing && !wasRolledBack && machine.state == .rolledBack {
                    s.fleet.pendingRollbacks.insert(name)
                    controllerLogger.warning("fleet unreachable: local rollback, written to the fleet when etcd returns",
                                             metadata: ["route": "\(name)", "reason": "\(machine.reason ?? "")"])
                }
                applyRollout(actions, machine: machine, route: r, &s, automatic: true)
            }
        }
    }

    /// Operator rollback: every non-baseline target to 0, the baseline to 100 %, state `rolled_back`
    /// with `reason`. 404 unknown route; 409 when already rolled back or the baseline already has 100 %.
    public func rollback(route name: String, reason: String) throws(ControlError) {
        try operate(route: name) { (m: inout RolloutStateMachine, now: UInt64) throws(RolloutRefusal) in
            try m.rollback(reason: reason, now: now)
        }
    }

    /// Operator promote: one progressive step, or straight to 100 % when `toFinal`. 404 unknown route;
    /// 409 when the route has no `progressive` or is not progressing, paused or holding at its last step.
    public func promote(route name: String, toFinal: Bool) throws(ControlError) {
        try operate(route: name) { (m: inout RolloutStateMachine, now: UInt64) throws(RolloutRefusal) in
            try m.promote(toFinal: toFinal, now: now)
        }
    }

    /// Operator approval: a route waiting at a manual gate takes its gated step. 404 unknown route;
    /// 409 unless the route is awaiting_approval.
    public func approve(route name: String) throws(ControlError) {
        try operate(route: name) { (m: inout RolloutStateMachine, now: UInt64) throws(RolloutRefusal) in
            try m.approve(now: now)
        }
    }

    /// Operator pause: freezes progression (rollback evaluation continues). 404 unknown route;
    /// 409 unless the route is progressing.
    public func pause(route name: String) throws(ControlError) {
        try operate(route: name) { (m: inout RolloutStateMachine, now: UInt64) throws(RolloutRefusal) in
            try m.pause(now: now)
        }
    }

    /// Operator resume: a paused route progresses again; a rolled-back route restarts its progression
    /// from the first step (progressive routes) or gets its configured weights back. 404 unknown route;
    /// 409 unless the route is paused or rolled_back.
    public func resume(route name: String) throws(ControlError) {
        try operate(route: name) { (m: inout RolloutStateMachine, now: UInt64) throws(RolloutRefusal) in
            try m.resume(now: now)
        }
    }

    /// The rollout controller of route `name` (a copy), or `nil` for an unknown route.
    public func rolloutMachine(route name: String) -> RolloutStateMachine? {
        let now = MonotonicClock.now()
        return state.withLock { s in
            syncRollout(&s, now: now)
            return s.rollout[name]
        }
    }

    /// Runs an operator action on route `name`'s machine under the lock and applies its actions.
    private func operate(
        route name: String,
        _ body: (inout RolloutStateMachine, UInt64) throws(RolloutRefusal) -> [RolloutAction]
    ) throws(ControlError) {
        if let committer = fleetCommitter {
            try fleetChange(committer, route: name) { _, _, machine, now in
                do throws(RolloutRefusal) {
                    return .success(Self.fleetEvents(try body(&machine, now)))
                } catch {
                    return .failure(ControlError(status: 409, message: error.message))
                }
            }
            return
        }
        let now = MonotonicClock.now()
        let result: Result<Void, ControlError> = state.withLock { s in
            syncRollout(&s, now: now)
            guard let r = s.snapshot.table.routeIndex(named: name), var machine = s.rollout[name] else {
                return .failure(ControlError(status: 404, message: "no route named \(name)"))
            }
            let actions: [RolloutAction]
            do throws(RolloutRefusal) {
                actions = try body(&machine, now)
            } catch {
                return .failure(ControlError(status: 409, message: error.message))
            }
            s.rollout[name] = machine
            applyRollout(actions, machine: machine, route: r, &s, automatic: false)
            return .success(())
        }
        try result.get()
    }

    /// Brings the rollout machines in line with the state. Caller holds the lock; idempotent, cheap when
    /// nothing changed, so it may be called at the end of any mutation (init, apply, setWeights).
    ///
    /// - After a config change (`configVersion` differs from the one the machines were built for), every
    ///   route gets a machine carried over by name when its definition is unchanged (a `rolled_back` route
    ///   stays rolled back and its weights are re-published over the configured ones), or a fresh, started
    ///   machine otherwise. If the live weights of a carried-over route differ from its configured weights,
    ///   an operator set them after the reload: the machine adopts them (`steady`).
    /// - Otherwise, a route whose live weights or runtime state differ from its machine's was changed by
    ///   `setWeights` (the only other writer): the machine adopts the operator's weights (`steady`).
    func syncRollout(_ s: inout State, now: UInt64) {
        if s.rolloutConfigVersion != s.configVersion {
            let configured = s.config.routeTable
            var machines: [String: RolloutStateMachine] = [:]
            var pending: [(route: Int, machine: RolloutStateMachine, actions: [RolloutAction])] = []
            for r in configured.routes.indices {
                let route = configured.routes[r]
                let names = route.targets.map { configured.backends[$0.backend].name }
                var machine = RolloutStateMachine(route: route, targetNames: names, carryingOver: s.rollout[route.name])
                var actions: [RolloutAction] = []
                if machine.wasCarriedOver {
                    let live = s.snapshot.table.weights(route: r)
                    if live != configured.weights(route: r) {
                        machine.operatorSetWeights(live, now: now)
                    } else if live != machine.weights {
                        actions.append(.setWeights(machine.weights))
                    }
                } else {
                    actions = machine.start(now: now)
                }
                machines[route.name] = machine
                pending.append((r, machine, actions))
            }
            s.rollout = machines
            s.rolloutConfigVersion = s.configVersion
            for p in pending {
                applyRollout(p.actions, machine: p.machine, route: p.route, &s, automatic: false)
            }
            return
        }
        for r in s.snapshot.table.routes.indices {
            let name = s.snapshot.table.routes[r].name
            guard var machine = s.rollout[name] else { continue }
            let live = s.snapshot.table.weights(route: r)
            let runtimeState = s.runtime[name]?.state
            guard live != machine.weights || runtimeState != machine.state.rawValue else { continue }
            machine.operatorSetWeights(live, now: now)
            s.rollout[name] = machine
            applyRollout([], machine: machine, route: r, &s, automatic: false)
        }
    }

    /// Applies a machine's actions to route `r`: publishes weights, records events (bounded), logs
    /// warnings, counts automatic rollbacks, and mirrors the machine's state and reason into the runtime.
    func applyRollout(
        _ actions: [RolloutAction], machine: RolloutStateMachine, route r: Int, _ s: inout State, automatic: Bool
    ) {
        let table = s.snapshot.table
        let route = table.routes[r]
        let names = route.targets.map { table.backends[$0.backend].name }
        var runtime = s.runtime[route.name] ?? RouteRuntime(state: machine.state.rawValue, reason: nil, events: [])
        var notifications: [RouteEvent] = []
        for action in actions {
            switch action {
            case .setWeights(let weights):
                if weights != s.snapshot.table.weights(route: r), s.snapshot.table.routes[r].acceptsWeights(weights) {
                    publishWeights(&s, route: r, weights: weights)
                }
            case .event(let type, let target, let reason):
                let backend = target.flatMap { names.indices.contains($0) ? names[$0] : nil }
                let event = RouteEvent(time: MonotonicClock.wallSeconds(), type: type, target: backend, reason: reason)
                runtime.events.append(event)
                if automatic && type == "rollback" {
                    s.registry.global.incrementShared(.rollbacks)
                }
                if type == "would_roll_back" { s.registry.global.incrementShared(.dryRunRollbacks) }
                if type == "inconclusive" { s.registry.global.incrementShared(.heldSteps) }
                notifications.append(event)
            case .log(let warning):
                controllerLogger.warning("\(warning)", metadata: ["route": "\(route.name)"])
            }
        }
        if runtime.events.count > maxRouteEvents { runtime.events.removeFirst(runtime.events.count - maxRouteEvents) }
        runtime.state = machine.state.rawValue
        runtime.reason = machine.reason
        runtime.evaluation = machine.lastEvaluation
        runtime.targetNames = names
        runtime.wouldRollBack = machine.wouldRollBack.enumerated().compactMap { t, why in
            why.map { (names.indices.contains(t) ? names[t] : "target \(t)", $0) }
        }
        s.runtime[route.name] = runtime
        for event in notifications {
            notify(&s, route: route.name, event: event, runtime: runtime)
        }
    }

    /// Hands a machine event to the notification sink, if it is one that is notified.
    func notify(_ s: inout State, route: String, event: RouteEvent, runtime: RouteRuntime) {
        guard let name = RouteNotification.eventName(forEventType: event.type) else { return }
        let n = RouteNotification(route: route, event: name, target: event.target, state: runtime.state, reason: event.reason,
                                  generation: s.generation, time: event.time, evaluation: runtime.evaluation,
                                  targetNames: runtime.targetNames)
        guard let sink = s.notificationSink else {
            if s.pendingNotifications.count >= Self.maxPendingNotifications { s.pendingNotifications.removeFirst() }
            s.pendingNotifications.append(n)
            return
        }
        sink(n, s.config)
    }

    /// A window snapshot as the rollback rules read it.
    static func figures(_ w: WindowSnapshot) -> RolloutWindowFigures {
        RolloutWindowFigures(requests: w.requests, errors: w.errors, latencyHistogram: w.latencyHistogram)
    }
}
