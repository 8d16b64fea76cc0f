import Synchronization
import SluiceCore
import SluiceConfig
import SluiceFleet
import SluiceRouting
import SluiceStats

/// An operator-facing failure of a control operation: HTTP status and reason.
public struct ControlError: Error, Sendable, CustomStringConvertible {
    /// 400 invalid input, 404 unknown route, 409 conflicting state.
    public let status: Int
    /// What was wrong, for the operator.
    public let message: String
    /// Every problem (config errors on reload); `message` joins them.
    public let details: [String]

    public init(status: Int, message: String, details: [String] = []) {
        self.status = status
        self.message = message
        self.details = details
    }

    public var description: String { message }
}

/// Runtime state of one route that the control plane changes (weights, rollout state, events).
public struct RouteRuntime: Sendable {
    /// One of steady, progressing, promoted, rolled_back, paused.
    public var state: String
    /// Why the route is in its state (rollback reason).
    public var reason: String?
    /// Recent events, oldest first (bounded).
    public var events: [RouteEvent]
    /// The numbers behind the latest rollback evaluation, if any.
    public var evaluation: RolloutEvaluation? = nil
    /// Backend name of each target, in route order (to name the evaluation's targets).
    public var targetNames: [String] = []
    /// Dry run: (backend, reason) of every target that would have been rolled back.
    public var wouldRollBack: [(backend: String, reason: String)] = []
}

/// Something that happened to a route, shown in /stats.
public struct RouteEvent: Sendable {
    /// Wall-clock seconds since the epoch.
    public var time: Double
    /// weight_change, reload, promotion, rollback, pause, resume.
    public var type: String
    /// The backend concerned, if any.
    public var target: String?
    /// Human-readable detail.
    public var reason: String
}

/// The main-thread side of Sluice: owns the config, builds and publishes snapshots, applies
/// operator actions. All mutation happens under `state`'s lock (admin thread, signal loop and
/// controller tick serialize there); workers only ever see the published immutable snapshots.
public final class ControlPlane: Sendable {
    /// What the lock protects.
    struct State {
        var config: SluiceConfig
        var snapshot: ProxySnapshot
        var generation: UInt64
        var configVersion: Int
        var runtime: [String: RouteRuntime]
        let registry: StatsRegistry
        /// Endpoint health objects by address, kept across reloads.
        let health: EndpointHealthRegistry
        /// Rollout controller of every route, by route name (see ControlPlane+Rollout.swift).
        var rollout: [String: RolloutStateMachine] = [:]
        /// `configVersion` the rollout machines were last built for (0: never).
        var rolloutConfigVersion: Int = 0
        /// Where rollout events go (webhooks); `nil` until the supervisor sets one.
        var notificationSink: NotificationSink?
        /// Events that happened before a sink was set (the first progressive steps happen in `init`),
        /// handed to the sink when it is set; at most `maxPendingNotifications`, oldest dropped.
        var pendingNotifications: [RouteNotification] = []
        /// Fleet mode and state (see ControlPlane+Fleet.swift); `.standalone` without a `fleet` section.
        var fleet = FleetLocalState()
    }

    /// Bound of ``State/pendingNotifications``.
    static let maxPendingNotifications = 64

    /// The snapshots the workers read.
    public let publisher: SnapshotPublisher
    /// Active health checks of the published snapshots' endpoints; started by the supervisor.
    public let healthChecker: HealthChecker
    /// Path re-read on reload (nil for an in-memory config).
    public let configPath: String?
    /// Worker count, fixed for the process.
    public let workers: Int
    /// Monotonic start time, for uptime.
    public let startedAt: UInt64
    let state: Mutex<State>
    /// Set once listeners accept; cleared when draining.
    let readyFlag = Atomic<Bool>(false)

    /// Builds the first snapshot. Throws the reasons the config cannot be served.
    public init(config: SluiceConfig, configPath: String?, workers: Int) throws(ControlError) {
        let registry = StatsRegistry(workers: workers)
        let health = EndpointHealthRegistry()
        let snapshot: ProxySnapshot
        do {
            snapshot = try SnapshotBuilder.build(config, registry: registry, health: health, generation: 1, configVersion: 1,
                                                  file: configPath)
        } catch {
            throw ControlError(status: 400, message: error.description, details: error.messages)
        }
        var runtime: [String: RouteRuntime] = [:]
        for route in config.routeTable.routes {
            runtime[route.name] = RouteRuntime(state: route.progressive == nil ? "steady" : "progressing", reason: nil, events: [])
        }
        self.configPath = configPath
        self.workers = workers
        startedAt = MonotonicClock.now()
        publisher = SnapshotPublisher(snapshot)
        healthChecker = HealthChecker(publisher: publisher)
        state = Mutex(State(config: config, snapshot: snapshot, generation: 1, configVersion: 1, runtime: runtime, registry: registry,
                            health: health))
        state.withLock { syncRollout(&$0, now: MonotonicClock.now()) }
    }

    /// Whether `/ready` answers 200.
    public var isReady: Bool {
        get { readyFlag.load(ordering: .relaxed) }
    }

    /// Marks the process ready (listeners accept) or not (starting, draining).
    public func setReady(_ ready: Bool) { readyFlag.store(ready, ordering: .relaxed) }

    /// The snapshot workers currently serve.
    public var currentSnapshot: ProxySnapshot { publisher.load() }

    /// The current config.
    public var currentConfig: SluiceConfig { state.withLock { $0.config } }

    /// Re-reads the config file, validates and compiles it off the request path, and swaps it in.
    /// Returns the new config version; on failure nothing changes.
    public func reload() throws(ControlError) -> Int {
        guard let path = configPath else {
            throw ControlError(status: 400, message: "no config file to reload (running on the built-in config)")
        }
        let global = currentSnapshot.global
        do {
            let config = try ConfigLoader.load(path: path)
            let version = try apply(config)
            global.incrementShared(.configReloads)
            return version
        } catch let error as ConfigErrors {
            global.incrementShared(.configReloadFailures)
            throw ControlError(status: 400, message: error.description, details: error.errors.map { "\(path):\($0.line): \($0.path): \($0.message)" })
        } catch let error as ControlError {
            global.incrementShared(.configReloadFailures)
            throw error
        } catch {
            global.incrementShared(.configReloadFailures)
            throw ControlError(status: 400, message: "\(error)")
        }
    }

    /// Swaps in an already-parsed config (reload, tests).
    public func apply(_ config: SluiceConfig) throws(ControlError) -> Int {
        let result: Result<Int, ControlError> = state.withLock { s in
            let generation = s.generation + 1
            let version = s.configVersion + 1
            let snapshot: ProxySnapshot
            do throws(SnapshotBuilder.Failure) {
                snapshot = try SnapshotBuilder.build(config, registry: s.registry, health: s.health, generation: generation,
                                                      configVersion: version, file: configPath)
            } catch {
                return .failure(ControlError(status: 400, message: error.description, details: error.messages))
            }
            var runtime: [String: RouteRuntime] = [:]
            for route in config.routeTable.routes {
                var r = s.runtime[route.name] ?? RouteRuntime(state: route.progressive == nil ? "steady" : "progressing", reason: nil, events: [])
                r.events.append(RouteEvent(time: MonotonicClock.wallSeconds(), type: "reload", target: nil, reason: "config version \(version)"))
                if r.events.count > 50 { r.events.removeFirst(r.events.count - 50) }
                runtime[route.name] = r
            }
            s.config = config
            s.snapshot = snapshot
            s.generation = generation
            s.configVersion = version
            s.runtime = runtime
            s.fleet.applied = [:]
            publisher.publish(snapshot)
            syncRollout(&s, now: MonotonicClock.now())
            return .success(version)
        }
        return try result.get()
    }

    /// Sets a route's weights from `{backend: percent}`; every target must be named, the sum must be 100.
    public func setWeights(route name: String, weights: [String: Double]) throws(ControlError) {
        if let committer = fleetCommitter {
            try fleetChange(committer, route: name) { s, r, machine, now in
                switch Self.validatedWeights(s.snapshot.table, route: r, name: name, weights) {
                case .failure(let e): return .failure(e)
                case .success(let (newWeights, text)):
                    machine.operatorSetWeights(newWeights, now: now)
                    // Recorded, not notified: as standalone, an operator's weights are no progressive `step`.
                    return .success([FleetRouteEvent(event: "weight_change", target: nil, cause: "operator set weights: \(text)", quiet: true)])
                }
            }
            return
        }
        let result: Result<Void, ControlError> = state.withLock { s in
            let table = s.snapshot.table
            guard let r = table.routes.firstIndex(where: { $0.name == name }) else {
                return .failure(ControlError(status: 404, message: "no route named \(name)"))
            }
            let newWeights: [Int], text: String
            switch Self.validatedWeights(table, route: r, name: name, weights) {
            case .failure(let e): return .failure(e)
            case .success(let v): (newWeights, text) = v
            }
            publishWeights(&s, route: r, weights: newWeights)
            var rt = s.runtime[name] ?? RouteRuntime(state: "steady", reason: nil, events: [])
            rt.state = "steady"
            rt.reason = nil
            rt.events.append(RouteEvent(time: MonotonicClock.wallSeconds(), type: "weight_change", target: nil, reason: "operator set weights: \(text)"))
            if rt.events.count > 50 { rt.events.removeFirst(rt.events.count - 50) }
            s.runtime[name] = rt
            syncRollout(&s, now: MonotonicClock.now())
            return .success(())
        }
        try result.get()
    }

    /// Checks operator weights `{backend: percent}` for route `r`: every target named, 0...100 with at most
    /// 2 decimals, sum 100. Returns them in basis points (route order) and as text for the event.
    static func validatedWeights(_ table: RouteTable, route r: Int, name: String, _ weights: [String: Double]) -> Result<([Int], String), ControlError> {
        let route = table.routes[r]
        var newWeights: [Int] = []
        var seen = Set<String>()
        for t in route.targets {
            let backend = table.backends[t.backend].name
            guard let w = weights[backend] else {
                return .failure(ControlError(status: 400, message: "missing weight for target \(backend)"))
            }
            seen.insert(backend)
            let bp = (w * 100).rounded()
            guard w >= 0, w <= 100, abs(bp - w * 100) < 1e-6 else {
                return .failure(ControlError(status: 400, message: "weight of \(backend) must be 0..100 with at most 2 decimals"))
            }
            newWeights.append(Int(bp))
        }
        if let unknown = weights.keys.first(where: { !seen.contains($0) }) {
            return .failure(ControlError(status: 400, message: "\(unknown) is not a target of route \(name)"))
        }
        let sum = newWeights.reduce(0, +)
        guard sum == 10_000 else {
            return .failure(ControlError(status: 400, message: "weights sum to \(Double(sum) / 100), must be 100"))
        }
        let text = route.targets.enumerated().map { "\(table.backends[$0.element.backend].name)=\(Double(newWeights[$0.offset]) / 100)" }.joined(separator: ", ")
        return .success((newWeights, text))
    }

    /// Publishes a copy of the current table with new weights for one route. Caller holds the lock.
    func publishWeights(_ s: inout State, route: Int, weights: [Int]) {
        s.generation += 1
        let table = s.snapshot.table.withWeights(route: route, weights: weights)
        s.snapshot = s.snapshot.replacingTable(table, generation: s.generation)
        publisher.publish(s.snapshot)
    }

    /// Sets where rollout events are sent (see ``NotificationSink``).
    public func setNotificationSink(_ sink: NotificationSink?) {
        state.withLock { s in
            s.notificationSink = sink
            guard let sink else { return }
            for n in s.pendingNotifications { sink(n, s.config) }
            s.pendingNotifications = []
        }
    }

    /// Runtime state of every route (for /stats).
    public var routeRuntime: [String: RouteRuntime] { state.withLock { $0.runtime } }

    /// Config version (increments on every successful reload).
    public var configVersion: Int { state.withLock { $0.configVersion } }
}
