/// A route's rollout state, as shown in `/stats`.
public enum RouteState: String, Sendable, Hashable, CaseIterable {
    /// Nothing in progress: the weights are the configured (or operator-set) ones.
    case steady
    /// A progressive rollout is climbing its steps.
    case progressing
    /// The progressive target reached 100 %.
    case promoted
    /// A candidate's traffic was sent back to the baseline (automatically or by an operator).
    case rolledBack = "rolled_back"
    /// An operator froze the progression where it is.
    case paused
}

/// What the control plane must do after feeding a ``RolloutStateMachine``.
public enum RolloutAction: Sendable, Hashable {
    /// Publish these weights (basis points, one per target, summing to 10000).
    case setWeights([Int])
    /// Record a route event: `type` is weight_change, promotion, rollback, pause or resume;
    /// `target` is an index into the route's targets.
    case event(type: String, target: Int?, reason: String)
    /// Log a warning (a breaching evaluation, an automatic rollback).
    case log(warning: String)
}

/// Why an operator action does not apply to the route's current state (HTTP 409).
public struct RolloutRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason, for the operator.
    public var message: String

    /// Creates a refusal.
    public init(_ message: String) { self.message = message }

    /// The reason.
    public var description: String { message }
}

/// The rollout controller of one route: progressive steps, rollback evaluation and operator
/// actions, as a value type that returns ``RolloutAction``s. Pure: no I/O, no clock of its own;
/// every `now` is monotonic nanoseconds supplied by the caller.
///
/// **Progressive** (`route.progressive` with target `P`, steps `s1 < s2 < … ≤ 10000`, interval `I`):
/// - ``start(now:)`` moves `P` to `s1` and the route to `progressing` (to `promoted` if `s1` is 10000).
///   The weights for a step `s` are ``weights(forStep:)``: `P` gets `s`, every other non-baseline
///   target keeps its configured weight (capped, in config order, by what is left), and the
///   baseline gets the rest, `10000 − sum of the others`.
/// - ``advance(now:)`` moves to the next step when the route is `progressing`, at least `I` has
///   passed since the last step, and the latest rollback evaluation was not a breach (a breach
///   holds the step; the step happens at the first advance after a non-breaching evaluation).
///   At most one step per call. Reaching 10000 makes the route `promoted` (P 100 %, everyone
///   else 0). Reaching a last step below 10000 makes it `steady` (holding there).
/// - Without traffic (no verdict) the progression continues: "not a breach" is enough.
///
/// **Rollback** (`route.rollback`): every `evaluate_every` (``isEvaluationDue(now:)``) the caller
/// passes every target's window figures to ``evaluate(now:windowSeconds:figures:)``. Each
/// non-baseline target with weight > 0 is judged by ``RolloutRules/judge(candidate:baseline:spec:)``:
/// a breach increments its counter, a healthy verdict resets it to 0, no verdict leaves it unchanged.
/// When a counter reaches `breaches_to_trip` the target's weight goes to the baseline, the target
/// gets 0, and the route becomes `rolled_back` with a reason such as
/// `p99 412ms > 250ms in 3 consecutive evaluations (window 60s, 1840 requests)`. Evaluations go on
/// in every state (`paused` and `promoted` included) while a non-baseline target has weight > 0.
/// The window evaluated is the configured window, shortened after a (re)start or an operator
/// action to the whole seconds elapsed since then, rounded up (``evaluationWindowSeconds(now:)``),
/// so that traffic from before a resume does not immediately trip a new rollback.
///
/// **Operator actions** (each throws ``RolloutRefusal`` when it makes no sense now):
/// - ``promote(toFinal:now:)``: routes with `progressive` that are `progressing`, `paused` or
///   holding at a last step below 100 %; one step (past the last configured step: 100 %), or
///   straight to 100 %. A paused route stays paused unless it reaches 100 % (`promoted`).
/// - ``pause(now:)``: only while `progressing`; evaluations (and automatic rollback) continue.
/// - ``resume(now:)``: from `paused`, progression continues and the current step's interval
///   starts over; from `rolled_back`, progressive routes restart from the first step and other
///   routes get their configured weights back (state `steady`); breach counters reset.
/// - ``rollback(reason:now:)``: every non-baseline target to 0, baseline 100 %, `rolled_back`;
///   refused when already rolled back or when the baseline already has 100 %.
/// - ``operatorSetWeights(_:now:)``: weights set through the admin API; the route becomes `steady`
///   (clearing `rolled_back` and stopping any progression), counters reset.
///
/// `rolled_back` is sticky: only an operator action or a reload that changes the route ends it.
/// ``init(route:targetNames:carryingOver:)`` keeps the previous machine (state, weights,
/// counters, clocks) when the route is unchanged.
public struct RolloutStateMachine: Sendable, Equatable {
    /// The route as configured (configured weights, specs).
    public private(set) var route: Route
    /// Display name of every target (backend names), for reasons and logs.
    public private(set) var targetNames: [String]
    /// Current state.
    public private(set) var state: RouteState
    /// Why the route is in its state (rollback reason), if anything.
    public private(set) var reason: String?
    /// The weights this machine wants published, basis points, one per target.
    public private(set) var weights: [Int]
    /// Index into `route.progressive.steps` of the step applied, or `nil` when not at a configured step.
    public private(set) var stepIndex: Int?
    /// Whether ``start(now:)`` has run.
    public private(set) var isStarted: Bool
    /// Whether this machine was carried over from the previous config (the route did not change).
    public private(set) var wasCarriedOver: Bool
    /// When the current step was applied (or the interval restarted).
    public private(set) var lastStepAt: UInt64
    /// When the last evaluation ran (or the schedule restarted).
    public private(set) var lastEvaluationAt: UInt64
    /// Start of the evaluation window after a (re)start or an operator action.
    public private(set) var windowStartAt: UInt64
    /// Consecutive breaching evaluations, per target.
    public private(set) var consecutiveBreaches: [Int]
    /// Whether the latest evaluation found a breach (holds progression).
    public private(set) var lastEvaluationBreached: Bool

    /// Creates the machine of `route` (configured weights, not started), or carries `previous` over
    /// when it describes the same route: same definition compared field by field, with targets
    /// compared by `targetNames` instead of backend table index, and the shadow's backend ignored
    /// (a shadow does not take part in the rollout). `targetNames` defaults to `target 0`, `target 1`, …
    public init(route: Route, targetNames: [String]? = nil, carryingOver previous: RolloutStateMachine? = nil) {
        let names = targetNames ?? route.targets.indices.map { "target \($0)" }
        if let previous, Self.sameRollout(previous.route, previous.targetNames, route, names) {
            self = previous
            self.route = route
            self.targetNames = names
            self.wasCarriedOver = true
            return
        }
        self.route = route
        self.targetNames = names
        self.state = route.progressive == nil ? .steady : .progressing
        self.reason = nil
        self.weights = route.targets.map(\.weight)
        self.stepIndex = nil
        self.isStarted = false
        self.wasCarriedOver = false
        self.lastStepAt = 0
        self.lastEvaluationAt = 0
        self.windowStartAt = 0
        self.consecutiveBreaches = Array(repeating: 0, count: route.targets.count)
        self.lastEvaluationBreached = false
    }

    /// Whether two routes (with their target names) describe the same rollout.
    static func sameRollout(_ a: Route, _ aNames: [String], _ b: Route, _ bNames: [String]) -> Bool {
        aNames == bNames && normalized(a) == normalized(b)
    }

    /// `route` with backend indices zeroed (targets are compared by name instead) and no shadow backend.
    private static func normalized(_ route: Route) -> Route {
        var r = route
        for i in r.targets.indices { r.targets[i].backend = 0 }
        if r.shadow != nil { r.shadow!.backend = 0 }
        return r
    }

    // MARK: - Queries

    /// Whether the route has a progressive rollout or rollback thresholds (otherwise ticks do nothing).
    public var isActive: Bool { route.progressive != nil || route.rollback != nil }

    /// The weights for progressive step `basisPoints` (see the type's documentation). 10000 gives
    /// the progressive target everything. Without `progressive`, the configured weights.
    public func weights(forStep basisPoints: Int) -> [Int] {
        let configured = route.targets.map(\.weight)
        guard let p = route.progressive else { return configured }
        let step = min(max(basisPoints, 0), 10_000)
        var result = Array(repeating: 0, count: configured.count)
        result[p.target] = step
        var left = 10_000 - step
        for i in configured.indices where i != p.target && i != route.baseline {
            result[i] = min(configured[i], left)
            left -= result[i]
        }
        result[route.baseline] = left
        return result
    }

    /// Whether a rollback evaluation is due: the route has thresholds, the machine has started,
    /// `evaluate_every` has passed since the last one, and a non-baseline target has weight > 0.
    public func isEvaluationDue(now: UInt64) -> Bool {
        guard let spec = route.rollback, isStarted, hasCandidates else { return false }
        return now >= lastEvaluationAt && now - lastEvaluationAt >= spec.evaluateEveryNanos
    }

    /// Seconds of window to evaluate now: the configured window, or fewer when the last (re)start or
    /// operator action was more recent, `ceil((now − windowStartAt) / 1 s)`, at least 1.
    public func evaluationWindowSeconds(now: UInt64) -> Int {
        let configured = max(route.rollback?.windowSeconds ?? 1, 1)
        let elapsed = now >= windowStartAt ? now - windowStartAt : 0
        let seconds = (elapsed + 999_999_999) / 1_000_000_000
        return Int(min(max(seconds, 1), UInt64(configured)))
    }

    /// Whether some non-baseline target has weight > 0.
    private var hasCandidates: Bool {
        weights.indices.contains { $0 != route.baseline && weights[$0] > 0 }
    }

    // MARK: - Clock-driven

    /// Starts the machine (idempotent): a progressive route moves to its first step.
    public mutating func start(now: UInt64) -> [RolloutAction] {
        guard !isStarted else { return [] }
        isStarted = true
        lastStepAt = now
        lastEvaluationAt = now
        windowStartAt = now
        guard let p = route.progressive, !p.steps.isEmpty else { return [] }
        state = .progressing
        return applyStep(index: 0, now: now, cause: "progressive rollout started")
    }

    /// One controller tick: start if needed, evaluate when due (asking `figures` for every target's
    /// window of the given length in seconds, indexed like the route's targets), then advance.
    public mutating func tick(now: UInt64, figures: (_ windowSeconds: Int) -> [RolloutWindowFigures]) -> [RolloutAction] {
        var actions = start(now: now)
        if isEvaluationDue(now: now) {
            let window = evaluationWindowSeconds(now: now)
            actions += evaluate(now: now, windowSeconds: window, figures: figures(window))
        }
        actions += advance(now: now)
        return actions
    }

    /// Moves to the next progressive step when due (see the type's documentation).
    public mutating func advance(now: UInt64) -> [RolloutAction] {
        var actions = start(now: now)
        guard state == .progressing, let p = route.progressive, let i = stepIndex,
              !lastEvaluationBreached, now >= lastStepAt, now - lastStepAt >= p.intervalNanos
        else { return actions }
        if i + 1 < p.steps.count {
            actions += applyStep(index: i + 1, now: now, cause: "progressive step after \(RolloutFormat.duration(nanos: p.intervalNanos))")
        } else {
            state = weights[p.target] >= 10_000 ? .promoted : .steady
        }
        return actions
    }

    /// Runs one rollback evaluation over `figures` (one per target, the window being `windowSeconds`
    /// long; missing entries are skipped). Returns the rollback actions when a target trips.
    public mutating func evaluate(now: UInt64, windowSeconds: Int, figures: [RolloutWindowFigures]) -> [RolloutAction] {
        guard let spec = route.rollback else { return [] }
        lastEvaluationAt = now
        let b = route.baseline
        let baseline = figures.indices.contains(b) ? figures[b] : nil
        var actions: [RolloutAction] = []
        var anyBreach = false
        var tripped: [(target: Int, reason: String)] = []
        for t in weights.indices where t != b && weights[t] > 0 && figures.indices.contains(t) {
            let c = figures[t]
            switch RolloutRules.judge(candidate: c, baseline: baseline, spec: spec) {
            case .noVerdict:
                continue
            case .healthy:
                consecutiveBreaches[t] = 0
            case .breach(let description):
                anyBreach = true
                consecutiveBreaches[t] += 1
                let n = consecutiveBreaches[t]
                let tail = "(window \(windowSeconds)s, \(c.requests) requests)"
                if n >= spec.breachesToTrip {
                    let evaluations = n == 1 ? "1 evaluation" : "\(n) consecutive evaluations"
                    tripped.append((t, "\(description) in \(evaluations) \(tail)"))
                } else {
                    actions.append(.log(warning: "route \(route.name): \(targetNames[t]) breached \(n)/\(spec.breachesToTrip): \(description) \(tail)"))
                }
            }
        }
        lastEvaluationBreached = anyBreach
        guard !tripped.isEmpty else { return actions }
        for (t, why) in tripped {
            weights[b] += weights[t]
            weights[t] = 0
            consecutiveBreaches[t] = 0
            actions.append(.event(type: "rollback", target: t, reason: why))
            actions.append(.log(warning: "route \(route.name): rolling back \(targetNames[t]) to \(targetNames[b]): \(why)"))
        }
        actions.insert(.setWeights(weights), at: 0)
        state = .rolledBack
        reason = tripped[0].reason
        stepIndex = nil
        lastEvaluationBreached = false
        return actions
    }

    // MARK: - Operator actions

    /// Advances the progressive target one step (past the last configured step: 100 %), or to
    /// 100 % when `toFinal`. Refused without `progressive` or unless progressing, paused or holding.
    public mutating func promote(toFinal: Bool, now: UInt64) throws(RolloutRefusal) -> [RolloutAction] {
        guard let p = route.progressive, !p.steps.isEmpty else {
            throw RolloutRefusal("route \(route.name) has no progressive rollout to promote")
        }
        var actions = start(now: now)
        let holding = state == .steady && stepIndex != nil
        guard state == .progressing || state == .paused || holding else {
            throw RolloutRefusal("route \(route.name) is \(state.rawValue); promote applies to a progressing or paused route")
        }
        let next = (stepIndex ?? -1) + 1
        if toFinal || next >= p.steps.count {
            actions += applyStep(index: p.steps.last == 10_000 ? p.steps.count - 1 : nil, now: now, cause: "operator promote")
        } else {
            actions += applyStep(index: next, now: now, cause: "operator promote")
        }
        return actions
    }

    /// Freezes progression. Refused unless progressing.
    public mutating func pause(now: UInt64) throws(RolloutRefusal) -> [RolloutAction] {
        var actions = start(now: now)
        guard state == .progressing, let p = route.progressive else {
            throw RolloutRefusal("route \(route.name) is \(state.rawValue); pause applies to a progressing route")
        }
        state = .paused
        actions.append(.event(type: "pause", target: p.target,
                              reason: "operator paused progression at \(RolloutFormat.percent(basisPoints: weights[p.target]))"))
        return actions
    }

    /// Resumes a paused route (the step's interval starts over) or a rolled-back one (progressive:
    /// from the first step; otherwise the configured weights, `steady`). Refused in other states.
    public mutating func resume(now: UInt64) throws(RolloutRefusal) -> [RolloutAction] {
        var actions = start(now: now)
        switch state {
        case .paused:
            let p = route.progressive
            let atLast = p.map { stepIndex == $0.steps.count - 1 } ?? false
            state = atLast ? .steady : .progressing
            lastStepAt = now
            actions.append(.event(type: "resume", target: p?.target, reason: "operator resumed progression"))
            return actions
        case .rolledBack:
            reason = nil
            resetEvaluation(now: now)
            if let p = route.progressive, !p.steps.isEmpty {
                state = .progressing
                actions.append(.event(type: "resume", target: p.target, reason: "operator resumed: progression restarts from the first step"))
                actions += applyStep(index: 0, now: now, cause: "progressive rollout restarted")
            } else {
                state = .steady
                stepIndex = nil
                weights = route.targets.map(\.weight)
                actions.append(.setWeights(weights))
                actions.append(.event(type: "resume", target: nil, reason: "operator resumed: configured weights restored"))
            }
            return actions
        default:
            throw RolloutRefusal("route \(route.name) is \(state.rawValue); resume applies to a paused or rolled_back route")
        }
    }

    /// Sends every non-baseline target's traffic to the baseline. Refused when already rolled back
    /// or when the baseline already has 100 %.
    public mutating func rollback(reason why: String, now: UInt64) throws(RolloutRefusal) -> [RolloutAction] {
        var actions = start(now: now)
        let b = route.baseline
        guard state != .rolledBack else {
            throw RolloutRefusal("route \(route.name) is already rolled_back")
        }
        guard hasCandidates else {
            throw RolloutRefusal("route \(route.name): nothing to roll back, \(targetNames[b]) already has 100%")
        }
        weights = weights.indices.map { $0 == b ? 10_000 : 0 }
        state = .rolledBack
        reason = why
        stepIndex = nil
        resetEvaluation(now: now)
        actions.append(.setWeights(weights))
        actions.append(.event(type: "rollback", target: nil, reason: why))
        return actions
    }

    /// Records weights an operator set directly (already validated and published by the caller):
    /// the route becomes `steady`, progression stops, `rolled_back` is cleared, counters reset.
    /// Weights that do not fit the route (wrong count) are ignored.
    public mutating func operatorSetWeights(_ newWeights: [Int], now: UInt64) {
        guard newWeights.count == route.targets.count else { return }
        _ = start(now: now)
        weights = newWeights
        state = .steady
        reason = nil
        stepIndex = nil
        resetEvaluation(now: now)
    }

    // MARK: - Helpers

    /// Restarts the breach counters, the evaluation schedule and the window.
    private mutating func resetEvaluation(now: UInt64) {
        consecutiveBreaches = Array(repeating: 0, count: route.targets.count)
        lastEvaluationBreached = false
        lastEvaluationAt = now
        windowStartAt = now
    }

    /// Applies progressive step `index` (`nil`: 100 % beyond the configured steps) and returns the actions.
    private mutating func applyStep(index: Int?, now: UInt64, cause: String) -> [RolloutAction] {
        guard let p = route.progressive else { return [] }
        let bp = index.map { min(p.steps[$0], 10_000) } ?? 10_000
        weights = weights(forStep: bp)
        stepIndex = index
        lastStepAt = now
        let name = targetNames[p.target]
        if bp >= 10_000 {
            state = .promoted
            return [.setWeights(weights),
                    .event(type: "promotion", target: p.target, reason: "\(cause): \(name) promoted to 100%")]
        }
        if state == .progressing && index == p.steps.count - 1 { state = .steady }
        let where_ = index.map { " (step \($0 + 1) of \(p.steps.count))" } ?? ""
        return [.setWeights(weights),
                .event(type: "weight_change", target: p.target,
                       reason: "\(cause): \(name) at \(RolloutFormat.percent(basisPoints: bp))\(where_)")]
    }
}
