import SluiceRouting

/// The fleet-wide runtime state of one route, stored as JSON at `/sluice/<fleet>/state/routes/<route>`
/// (docs/fleet.md). Every replica whose route definition has the same ``definition`` applies it.
public struct FleetRouteState: Sendable, Equatable, Codable {
    /// The route's name.
    public var route: String
    /// ``FleetDefinition/hash(route:targetNames:)`` of the route definition this state was made for.
    public var definition: String
    /// Fleet-wide generation of this change (the `generation` counter after it).
    public var generation: UInt64
    /// Backend name of each target, route order (for operators reading etcd).
    public var targets: [String]
    /// Weights in basis points, one per target, summing to 10000.
    public var weights: [Int]
    /// steady, progressing, promoted, rolled_back, paused or awaiting_approval.
    public var state: String
    /// Why the route is in its state (rollback reason), if anything.
    public var reason: String?
    /// Index of the progressive step applied, if at a configured step.
    public var step: Int?
    /// Wall-clock seconds when the current step started (progression resumes from here on a new leader).
    public var stepStarted: Double
    /// Instance that wrote this state.
    public var by: String
    /// Event type of the change (weight_change, rollback, promotion, pause, resume, ...; `created` for a
    /// state first written from configuration).
    public var event: String
    /// Human-readable cause of the change.
    public var cause: String
    /// Wall-clock seconds when the change was proposed (tells a restarted replica its own earlier writes apart).
    public var writtenAt: Double
    /// Whether the change was decided by the rules (a leader verdict or step, a local rollback), not an operator.
    public var automatic: Bool
    /// Every route event of the change, in order (an approval and the step it lets through are two), which each
    /// replica records as the writer did; nil when the change has none of its own (a state created from
    /// configuration) or was written by a version without it: ``event`` and ``cause`` then stand alone.
    public var events: [FleetRouteEvent]?

    enum CodingKeys: String, CodingKey {
        case route, definition, generation, targets, weights, state, reason, step
        case stepStarted = "step_started"
        case by, event, cause
        case writtenAt = "written_at"
        case automatic, events
    }

    /// Creates a state record.
    public init(route: String, definition: String, generation: UInt64, targets: [String], weights: [Int], state: String,
                reason: String?, step: Int?, stepStarted: Double, by: String, event: String, cause: String,
                writtenAt: Double = 0, automatic: Bool = false, events: [FleetRouteEvent]? = nil) {
        self.route = route
        self.definition = definition
        self.generation = generation
        self.targets = targets
        self.weights = weights
        self.state = state
        self.reason = reason
        self.step = step
        self.stepStarted = stepStarted
        self.by = by
        self.event = event
        self.cause = cause
        self.writtenAt = writtenAt
        self.automatic = automatic
        self.events = events
    }

    /// Whether `other` describes the same route state (ignores generation, author and cause).
    public func sameState(as other: FleetRouteState) -> Bool {
        definition == other.definition && weights == other.weights && state == other.state && reason == other.reason
            && step == other.step && abs(stepStarted - other.stepStarted) < 0.001
    }
}

/// One route event of a fleet state change (``FleetRouteState/events``).
public struct FleetRouteEvent: Sendable, Equatable, Codable {
    /// Event type, as in a route's events: approval, weight_change, promotion, rollback, pause, resume, ...
    public var event: String
    /// Index of the target concerned in the route's targets, if any.
    public var target: Int?
    /// Human-readable cause.
    public var cause: String
    /// true: recorded but sent to no webhook, as standalone (an operator's weight change); nil otherwise.
    public var quiet: Bool?

    /// Creates an event.
    public init(event: String, target: Int?, cause: String, quiet: Bool? = nil) {
        self.event = event
        self.target = target
        self.cause = cause
        self.quiet = quiet
    }
}

/// The identity of a route definition, so replicas with different configs (a rolling config update) never
/// apply each other's state.
public enum FleetDefinition {
    /// A 64-bit hash (``StickyHash/hash64(_:)``, fixed across processes) of the route's definition with its
    /// targets named by backend (not by backend table index) and the shadow backend left out, as 16 hex
    /// digits. Two replicas with the same route YAML get the same hash.
    public static func hash(route: Route, targetNames: [String]) -> String {
        var r = route
        for i in r.targets.indices { r.targets[i].backend = 0 }
        if r.shadow != nil { r.shadow!.backend = 0 }
        let text = "\(targetNames)|\(r)"
        let h = StickyHash.hash64(Array(text.utf8))
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
