import Logging
import SluiceConfig
import SluiceCore
import SluiceFleet
import SluiceRouting
import SluiceStats

/// Logger of fleet state changes applied to this replica.
private let fleetPlaneLogger = Logger(label: "sluice.fleet")

/// The control plane's fleet state (under the `state` lock).
struct FleetLocalState {
    /// Standalone, connected or disconnected.
    var mode: FleetMode = .standalone
    /// Commits operator actions (the fleet agent's), once attached.
    var committer: (any FleetCommitter)?
    /// The fleet status (for /stats and /metrics), once attached.
    var status: FleetStatus?
    /// This replica's instance name.
    var instance = ""
    /// Wall-clock time the fleet was attached (states this replica wrote before, in an earlier process, are not its own).
    var attachedAt: Double = 0
    /// Latest state seen per route, whatever its definition, with its key's mod revision.
    var seen: [String: (record: FleetRouteState, revision: Int64)] = [:]
    /// Revision of the state applied per route (only states whose definition matched).
    var applied: [String: Int64] = [:]
    /// Routes rolled back locally while disconnected, not yet written to the fleet.
    var pendingRollbacks: Set<String> = []
    /// Definition hash per route, for `definitionsVersion`.
    var definitions: [String: String] = [:]
    /// Config version `definitions` were computed for.
    var definitionsVersion = 0
    /// The leader's merged window per route (computed here when leading, read from etcd otherwise), for /stats.
    var mergedWindows: [String: FleetMergedWindow] = [:]
}

extension ControlPlane: FleetLocalPlane {
    /// Joins a fleet: operator actions go through `committer`, `/stats` shows `status`. The mode starts
    /// `disconnected` until the agent reaches etcd.
    public func attachFleet(instance: String, committer: any FleetCommitter, status: FleetStatus) {
        state.withLock { s in
            s.fleet.instance = instance
            s.fleet.attachedAt = MonotonicClock.wallSeconds()
            s.fleet.committer = committer
            s.fleet.status = status
            if s.fleet.mode == .standalone { s.fleet.mode = .disconnected }
        }
    }

    /// The committer of operator actions once a `fleet` is attached (they then go through etcd), else nil.
    var fleetCommitter: (any FleetCommitter)? { state.withLock { $0.fleet.committer } }

    /// The fleet status, when in a fleet.
    public var fleetStatus: FleetStatusSnapshot? { state.withLock { $0.fleet.status?.snapshot } }

    /// Generation of the fleet state applied to route `name`, when in a fleet.
    public func fleetGeneration(route name: String) -> UInt64? {
        state.withLock { s in
            guard s.fleet.committer != nil, let seen = s.fleet.seen[name], s.fleet.applied[name] == seen.revision else { return nil }
            return seen.record.generation
        }
    }

    /// The fleet-wide window of route `name` the leader last evaluated (nil before the first one).
    public func fleetWindow(route name: String) -> FleetMergedWindow? {
        state.withLock { $0.fleet.mergedWindows[name] }
    }

    public func fleetMergedWindows() -> [FleetMergedWindow] {
        state.withLock { s in s.fleet.mergedWindows.keys.sorted().compactMap { s.fleet.mergedWindows[$0] } }
    }

    public func fleetSetMergedWindows(_ windows: [FleetMergedWindow]) {
        state.withLock { s in
            s.fleet.mergedWindows = [:]
            for w in windows { s.fleet.mergedWindows[w.route] = w }
        }
    }

    // MARK: - FleetLocalPlane

    public func fleetSetMode(_ mode: FleetMode) {
        state.withLock { $0.fleet.mode = mode }
    }

    public var fleetConfigVersion: Int { configVersion }

    public func fleetRoutes() -> [FleetRouteInfo] {
        state.withLock { s in
            s.snapshot.table.routes.indices.map { r in
                let route = s.snapshot.table.routes[r]
                return FleetRouteInfo(name: route.name, definition: definition(&s, route: r), targets: targetNames(s, route: r),
                                      hasRollback: route.rollback != nil, windowSeconds: route.rollback?.windowSeconds ?? 0)
            }
        }
    }

    public func fleetAdopt(_ record: FleetRouteState, revision: Int64) {
        let now = MonotonicClock.now()
        state.withLock { s in adopt(&s, record, revision: revision, now: now) }
    }

    public func fleetCommitted(_ record: FleetRouteState, revision: Int64) {
        let now = MonotonicClock.now()
        state.withLock { s in
            if record.state == RouteState.rolledBack.rawValue { s.fleet.pendingRollbacks.remove(record.route) }
            adopt(&s, record, revision: revision, now: now)
        }
    }

    public func fleetLocalSeconds(count: Int) -> [FleetSecond] {
        let (snapshot, routes) = state.withLock { s in (s.snapshot, s.snapshot.table.routes.indices.filter { s.snapshot.table.routes[$0].rollback != nil }) }
        let nowSecond = MonotonicClock.now() / 1_000_000_000
        var out: [FleetSecond] = []
        for i in 0..<max(count, 1) {
            let mono = nowSecond - UInt64(max(count, 1) - 1 - i)
            var byRoute: [String: [FleetTargetSecond]] = [:]
            for r in routes {
                let targets = snapshot.targetStats[r].map { stats -> FleetTargetSecond in
                    let w = stats.windowSnapshot(nowSecond: mono, windowSeconds: 1)
                    return FleetTargetSecond(requests: w.requests, errors: w.errors, histogram: w.latencyHistogram)
                }
                if targets.contains(where: { !$0.isEmpty }) { byRoute[snapshot.table.routes[r].name] = targets }
            }
            out.append(FleetSecond(s: FleetClock.wall(monoSecond: mono), routes: byRoute))
        }
        return out
    }

    public func fleetLeaderTick(instance: String, figures: (String, String, Int, RolloutWindowRange) -> [RolloutWindowFigures]) -> [FleetProposal] {
        let now = MonotonicClock.now()
        // Under the lock: the first states to write, and a copy of each active machine the fleet state applies to.
        let (created, routes, version) = state.withLock { s -> ([FleetProposal], [LeaderTickRoute], Int) in
            syncRollout(&s, now: now)
            var created: [FleetProposal] = []
            var routes: [LeaderTickRoute] = []
            for r in s.snapshot.table.routes.indices {
                let route = s.snapshot.table.routes[r]
                guard let machine = s.rollout[route.name] else { continue }
                let def = definition(&s, route: r)
                let seen = s.fleet.seen[route.name]
                // No fleet state for this definition yet: the leader writes its own, from its machine.
                guard let seen, seen.record.definition == def, s.fleet.applied[route.name] == seen.revision else {
                    if seen == nil || seen!.record.definition != def {
                        created.append(proposal(&s, route: r, machine: machine, event: "created",
                                                cause: "fleet state created from the configuration of \(instance)",
                                                base: seen?.revision ?? 0, fenced: true, now: now))
                    }
                    continue
                }
                guard machine.isActive else { continue }
                routes.append(LeaderTickRoute(index: r, name: route.name, definition: def, targets: route.targets.count,
                                              machine: machine, base: seen.revision))
            }
            return (created, routes, s.configVersion)
        }
        // Outside the lock: `figures` adds up every replica's seconds, which grows with the fleet, and the admin
        // threads, the watch and the supervisor's tick must not wait for it. A machine is a value: each ticks on
        // its copy here.
        let ticked = routes.map { route -> (route: LeaderTickRoute, next: RolloutStateMachine, actions: [RolloutAction], merged: [RolloutWindowFigures]) in
            var next = route.machine
            var merged: [RolloutWindowFigures] = []
            let actions = next.tick(now: now) { range in
                let f = figures(route.name, route.definition, route.targets, range)
                merged = f
                return f
            }
            return (route, next, actions, merged)
        }
        // Back under the lock, a result counts only if the route's machine is still the copy it was computed from:
        // an operator action, a fleet state from the watch or a reload in between makes it stale, and it is
        // dropped (breach counters included); the next tick, 200 ms later, evaluates the newer state.
        return state.withLock { s -> [FleetProposal] in
            syncRollout(&s, now: now)
            guard s.configVersion == version else { return created }
            var proposals = created
            for (route, next, actions, merged) in ticked {
                guard s.rollout[route.name] == route.machine else { continue }
                let r = route.index
                if !merged.isEmpty {
                    s.fleet.mergedWindows[route.name] = FleetMergedWindow(
                        route: route.name, seconds: next.evaluationWindowSeconds(now: now),
                        targets: merged.map { .init(requests: $0.requests, errors: $0.errors, p50Micros: $0.p50Micros, p99Micros: $0.p99Micros) })
                }
                if Self.sameVisibleState(route.machine, next) {
                    s.rollout[route.name] = next
                    applyRollout(actions.filter { if case .setWeights = $0 { return false } else { return true } },
                                 machine: next, route: r, &s, automatic: true)
                    continue
                }
                var event = (type: "weight_change", reason: "leader decision")
                for case .event(let type, _, let reason) in actions where type != "inconclusive" {
                    event = (type, reason)
                    break
                }
                for case .log(let warning) in actions { controllerLogger.warning("\(warning)", metadata: ["route": "\(route.name)"]) }
                proposals.append(proposal(&s, route: r, machine: next, event: event.type, cause: event.reason,
                                          events: Self.fleetEvents(actions), base: route.base, fenced: true, now: now))
            }
            return proposals
        }
    }

    public func fleetPendingRollbacks(instance: String) -> [FleetProposal] {
        let now = MonotonicClock.now()
        return state.withLock { s in
            s.fleet.pendingRollbacks.sorted().compactMap { name -> FleetProposal? in
                guard let r = s.snapshot.table.routeIndex(named: name), let m = s.rollout[name], m.state == .rolledBack else {
                    s.fleet.pendingRollbacks.remove(name)
                    return nil
                }
                if let seen = s.fleet.seen[name], seen.record.state == RouteState.rolledBack.rawValue {
                    s.fleet.pendingRollbacks.remove(name)
                    return nil
                }
                return proposal(&s, route: r, machine: m, event: "rollback",
                                cause: "local rollback while etcd was unreachable: \(m.reason ?? "")",
                                base: s.fleet.seen[name]?.revision ?? 0, fenced: false, now: now)
            }
        }
    }

    // MARK: - Operator actions in a fleet

    /// Runs an operator change on a copy of route `name`'s machine and commits the result to the fleet through
    /// `committer` (compare-and-swap); applies it locally once committed. The change returns the route events
    /// the fleet state carries (every replica records them; this one notifies them, as standalone).
    /// 503 while etcd is unreachable, 409 when the route's definition differs from the fleet state's.
    func fleetChange(
        _ committer: any FleetCommitter, route name: String,
        _ change: (inout State, Int, inout RolloutStateMachine, UInt64) -> Result<[FleetRouteEvent], ControlError>
    ) throws(ControlError) {
        for _ in 0..<5 {
            let now = MonotonicClock.now()
            let prepared: Result<FleetProposal, ControlError> = state.withLock { s in
                syncRollout(&s, now: now)
                guard s.fleet.mode == .connected else {
                    return .failure(ControlError(status: 503, message:
                        "fleet \(s.fleet.status?.snapshot.name ?? ""): etcd is unreachable, so the change was applied on no replica; retry when etcd is back"))
                }
                guard let r = s.snapshot.table.routeIndex(named: name), var machine = s.rollout[name] else {
                    return .failure(ControlError(status: 404, message: "no route named \(name)"))
                }
                let def = definition(&s, route: r)
                let seen = s.fleet.seen[name]
                if let seen, seen.record.definition != def {
                    return .failure(ControlError(status: 409, message:
                        "route \(name) is defined differently here than in the fleet state (generation \(seen.record.generation), by \(seen.record.by)): a config rollout is in progress; act on a replica with the fleet's definition or finish the rollout"))
                }
                switch change(&s, r, &machine, now) {
                case .failure(let e): return .failure(e)
                case .success(let events):
                    // The headline is the change itself, not the approval that let a step through.
                    let main = events.first { $0.event != "approval" }
                    return .success(proposal(&s, route: r, machine: machine, event: main?.event ?? "operator",
                                             cause: main?.cause ?? "operator action", events: events,
                                             base: seen?.revision ?? 0, fenced: false, automatic: false, now: now))
                }
            }
            let p = try prepared.get()
            switch committer.commit(p) {
            case .committed(let record, let revision):
                fleetPlaneLogger.info("fleet state changed by operator", metadata: [
                    "route": "\(name)", "generation": "\(record.generation)", "state": "\(record.state)", "cause": "\(record.cause)"])
                fleetCommitted(record, revision: revision)
                return
            case .conflict(let record, let revision):
                if let record { fleetAdopt(record, revision: revision) }
            case .notLeader, .contended:
                continue
            case .unavailable(let why):
                throw ControlError(status: 503, message: "fleet: etcd is unreachable, so the change was applied on no replica: \(why)")
            }
        }
        throw ControlError(status: 409, message: "the fleet state of route \(name) kept changing during the request; try again")
    }

    // MARK: - Helpers (caller holds the lock)

    /// Applies `record` to its route when the definition matches and it is newer than the applied one.
    /// The replica that wrote the state notifies and counts it, whichever of its commit answer and its
    /// watch brings the state here first (the second finds it applied).
    private func adopt(_ s: inout State, _ record: FleetRouteState, revision: Int64, now: UInt64) {
        let author = record.by == s.fleet.instance && record.writtenAt >= s.fleet.attachedAt
        if let seen = s.fleet.seen[record.route], seen.revision > revision { return }
        s.fleet.seen[record.route] = (record, revision)
        s.fleet.status?.observeGeneration(record.generation)
        guard let r = s.snapshot.table.routeIndex(named: record.route), var machine = s.rollout[record.route],
              let newState = RouteState(rawValue: record.state) else { return }
        guard record.definition == definition(&s, route: r) else {
            fleetPlaneLogger.info("fleet state not applied: the route is defined differently here", metadata: [
                "route": "\(record.route)", "generation": "\(record.generation)", "by": "\(record.by)"])
            return
        }
        // A rollback decided here while cut off is written first; it is never undone by an older state.
        if s.fleet.pendingRollbacks.contains(record.route) && newState != .rolledBack { return }
        if let applied = s.fleet.applied[record.route], applied >= revision { return }
        s.fleet.applied[record.route] = revision
        let wallNow = MonotonicClock.wallSeconds()
        let ago = max(0, wallNow - record.stepStarted)
        let stepStarted = now > UInt64(ago * 1e9) ? now - UInt64(ago * 1e9) : 0
        let before = machine
        machine.adoptFleetState(weights: record.weights, state: newState, reason: record.reason, stepIndex: record.step,
                                stepStartedAt: stepStarted, now: now)
        s.rollout[record.route] = machine
        let changed = !Self.sameVisibleState(before, machine)
        var actions: [RolloutAction] = [.setWeights(machine.weights)]
        if changed || author {
            let suffix = " (fleet generation \(record.generation), by \(record.by))"
            if let events = record.events {
                actions += events.map { .event(type: $0.event, target: $0.target, reason: $0.cause + suffix) }
            } else {
                let target = record.event == "rollback" || record.event == "promotion" || record.event == "weight_change"
                    ? s.snapshot.table.routes[r].progressive?.target : nil
                actions.append(.event(type: record.event, target: target, reason: record.cause + suffix))
            }
            fleetPlaneLogger.info("fleet state applied", metadata: [
                "route": "\(record.route)", "generation": "\(record.generation)", "state": "\(record.state)",
                "weights": "\(record.weights)", "by": "\(record.by)"])
        }
        // Only the author notifies webhooks: one notification per change for the whole fleet; and not for a
        // change whose events are quiet (an operator's weights), as standalone.
        let notifies = author && !(record.events?.allSatisfy { $0.quiet == true } ?? false)
        let sink = s.notificationSink
        if !notifies { s.notificationSink = nil }
        let pending = s.pendingNotifications
        applyRollout(actions, machine: machine, route: r, &s, automatic: author && record.automatic)
        if !notifies { s.notificationSink = sink; s.pendingNotifications = pending }
    }

    /// A proposal with `machine`'s visible state for route `r`.
    private func proposal(_ s: inout State, route r: Int, machine: RolloutStateMachine, event: String, cause: String,
                          events: [FleetRouteEvent] = [], base: Int64, fenced: Bool, automatic: Bool = true,
                          now: UInt64) -> FleetProposal {
        let route = s.snapshot.table.routes[r]
        let ago = Double(now >= machine.lastStepAt ? now - machine.lastStepAt : 0) / 1e9
        let record = FleetRouteState(route: route.name, definition: definition(&s, route: r), generation: 0,
                                     targets: targetNames(s, route: r), weights: machine.weights, state: machine.state.rawValue,
                                     reason: machine.reason, step: machine.stepIndex, stepStarted: MonotonicClock.wallSeconds() - ago,
                                     by: s.fleet.instance, event: event, cause: cause, writtenAt: MonotonicClock.wallSeconds(),
                                     automatic: automatic, events: events.isEmpty ? nil : events)
        return FleetProposal(baseRevision: base, record: record, fenced: fenced)
    }

    /// The route events among `actions`, as a fleet state carries them.
    static func fleetEvents(_ actions: [RolloutAction]) -> [FleetRouteEvent] {
        actions.compactMap { action -> FleetRouteEvent? in
            guard case .event(let type, let target, let reason) = action else { return nil }
            return FleetRouteEvent(event: type, target: target, cause: reason)
        }
    }

    /// Whether two machines show the same state to the fleet (weights, state, reason, step).
    static func sameVisibleState(_ a: RolloutStateMachine, _ b: RolloutStateMachine) -> Bool {
        a.weights == b.weights && a.state == b.state && a.reason == b.reason && a.stepIndex == b.stepIndex
    }

    private func targetNames(_ s: State, route r: Int) -> [String] {
        let table = s.snapshot.table
        return table.routes[r].targets.map { table.backends[$0.backend].name }
    }

    /// The definition hash of route `r` (cached per config version).
    private func definition(_ s: inout State, route r: Int) -> String {
        if s.fleet.definitionsVersion != s.configVersion {
            s.fleet.definitions = [:]
            s.fleet.definitionsVersion = s.configVersion
        }
        let name = s.snapshot.table.routes[r].name
        if let d = s.fleet.definitions[name] { return d }
        // The configured route (not the live snapshot, whose weights change at run time).
        let configured = s.config.routeTable
        guard let c = configured.routeIndex(named: name) else { return "" }
        let d = FleetDefinition.hash(route: configured.routes[c], targetNames: configured.routes[c].targets.map { configured.backends[$0.backend].name })
        s.fleet.definitions[name] = d
        return d
    }
}

/// A route the leader's tick evaluates: where it is in the table, and a copy of its machine taken under the lock.
private struct LeaderTickRoute {
    /// Index in the route table the copy was taken from.
    var index: Int
    /// Route name.
    var name: String
    /// Definition hash (the leader adds up only replicas with the same one).
    var definition: String
    /// Number of targets.
    var targets: Int
    /// The machine as it was under the lock.
    var machine: RolloutStateMachine
    /// Mod revision of the fleet state the machine follows (the proposal's base).
    var base: Int64
}
