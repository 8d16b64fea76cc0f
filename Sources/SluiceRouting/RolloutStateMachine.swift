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
    /// The next progressive step has a manual gate: waiting for `POST /routes/NAME/approve`.
    case awaitingApproval = "awaiting_approval"
}

/// The seconds a figures read covers: the `seconds` whole monotonic seconds ending with `endSecond`,
/// i.e. `(endSecond − seconds, endSecond]`.
public struct RolloutWindowRange: Sendable, Hashable {
    /// Last second included (monotonic seconds, `now / 1e9`).
    public var endSecond: UInt64
    /// Number of seconds, at least 1.
    public var seconds: Int

    /// Creates a range.
    public init(endSecond: UInt64, seconds: Int) {
        self.endSecond = endSecond
        self.seconds = seconds
    }
}

/// A candidate's two sequential tests (``SequentialRatioTest``): errors, and requests slower than the
/// route's latency threshold.
public struct SequentialTests: Sendable, Hashable {
    /// Errors per request, candidate against baseline.
    public var errors: SequentialRatioTest
    /// Slow requests per request, candidate against baseline (fed once the threshold is known).
    public var latency: SequentialRatioTest

    /// Fresh tests for `relative`'s tolerances.
    public init(_ relative: RelativeThresholds) {
        errors = SequentialRatioTest(ratio0: relative.maxErrorRatio)
        latency = SequentialRatioTest(ratio0: relative.maxSlowRatio)
    }
}

/// What the control plane must do after feeding a ``RolloutStateMachine``.
public enum RolloutAction: Sendable, Hashable {
    /// Publish these weights (basis points, one per target, summing to 10000).
    case setWeights([Int])
    /// Record a route event: `type` is weight_change, promotion, rollback, pause, resume,
    /// awaiting_approval, approval, inconclusive or would_roll_back; `target` is an index into the route's targets.
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
/// - With rollback rules (not in dry run) and `requireEvidence`, a step also needs an evaluation
///   since the current step whose outcome was `passed` (enough requests, every rule held); without
///   one the step holds and one `inconclusive` event says so.
/// - A step listed in `gates` moves the route to `awaiting_approval` instead; ``approve(now:)``
///   (or ``promote(toFinal:now:)``) takes it.
///
/// **Rollback** (`route.rollback`): every `evaluate_every` (``isEvaluationDue(now:)``) the caller
/// passes every target's window figures to ``evaluate(now:windowSeconds:figures:increment:)``
/// (with `method: sequential`, also the completed seconds since the last evaluation, which feed
/// the ``SequentialTests``; a rejection trips at once). Each evaluation is kept in ``lastEvaluation``;
/// in dry run a trip only records ``wouldRollBack`` and a `would_roll_back` event. Each
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
    /// Whether an evaluation passed with at least `min_requests` since the current step applied.
    public private(set) var hasStepEvidence: Bool
    /// Whether the current step's hold for lack of evidence was already reported (one event per step).
    public private(set) var reportedInconclusive: Bool
    /// Sequential tests per target (`relative_to_baseline.method: sequential`; baseline entry unused).
    public private(set) var sequential: [SequentialTests]
    /// Last whole second whose traffic the sequential tests have seen.
    public private(set) var sequentialThroughSecond: UInt64
    /// The sequential latency test's threshold, µs, once known (fixed, or the baseline's frozen quantile).
    public private(set) var latencyThresholdMicros: UInt64?
    /// The numbers behind the latest evaluation.
    public private(set) var lastEvaluation: RolloutEvaluation?
    /// Dry run: the latest reason each target would have been rolled back for (`nil`: none), by target.
    public private(set) var wouldRollBack: [String?]

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
        self.hasStepEvidence = false
        self.reportedInconclusive = false
        let relative = route.rollback?.relativeToBaseline ?? RelativeThresholds()
        self.sequential = Array(repeating: SequentialTests(relative), count: route.targets.count)
        self.sequentialThroughSecond = 0
        self.latencyThresholdMicros = nil
        self.lastEvaluation = nil
        self.wouldRollBack = Array(repeating: nil, count: route.targets.count)
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

    /// Starts the machine (idempotent): a progressive route moves to its first step (or waits for
    /// approval when the first step has a gate).
    public mutating func start(now: UInt64) -> [RolloutAction] {
        guard !isStarted else { return [] }
        isStarted = true
        lastStepAt = now
        resetEvaluation(now: now)
        guard let p = route.progressive, !p.steps.isEmpty else { return [] }
        state = .progressing
        if let gated = gate(before: 0) { return gated }
        return applyStep(index: 0, now: now, cause: "progressive rollout started")
    }

    /// Whether the route judges candidates with the sequential tests.
    public var usesSequentialTests: Bool { route.rollback?.relativeToBaseline?.method == .sequential }

    /// One controller tick: start if needed, evaluate when due, then advance. `figures` returns every
    /// target's traffic over a range of whole seconds (indexed like the route's targets); it is asked for
    /// the window ending now (``evaluationWindowSeconds(now:)`` long) and, with sequential tests, for the
    /// completed seconds the tests have not seen yet.
    /// With `advancing` false only the evaluation runs (a fleet replica cut off from etcd keeps its
    /// rollback rules as a safety valve but takes no step).
    public mutating func tick(now: UInt64, advancing: Bool = true,
                              figures: (RolloutWindowRange) -> [RolloutWindowFigures]) -> [RolloutAction] {
        var actions = start(now: now)
        if isEvaluationDue(now: now) {
            let window = evaluationWindowSeconds(now: now)
            let nowSecond = now / 1_000_000_000
            let current = figures(RolloutWindowRange(endSecond: nowSecond, seconds: window))
            var increment: [RolloutWindowFigures]?
            if usesSequentialTests, nowSecond > 0, nowSecond - 1 > sequentialThroughSecond {
                let span = nowSecond - 1 - sequentialThroughSecond
                increment = figures(RolloutWindowRange(endSecond: nowSecond - 1, seconds: Int(min(span, 86_400))))
                sequentialThroughSecond = nowSecond - 1
            }
            actions += evaluate(now: now, windowSeconds: window, figures: current, increment: increment)
        }
        if advancing { actions += advance(now: now) }
        return actions
    }

    /// Takes the fleet-wide state of the route (docs/fleet.md): weights, state, reason, progressive step and
    /// when that step started (monotonic, this process's clock). When any of them differs from the
    /// machine's, the breach counters, the sequential tests and the evaluation window restart, as after an
    /// operator action. Weights that do not fit the route (wrong count) are ignored.
    public mutating func adoptFleetState(weights newWeights: [Int], state newState: RouteState, reason newReason: String?,
                                         stepIndex newStep: Int?, stepStartedAt: UInt64, now: UInt64) {
        guard newWeights.count == route.targets.count else { return }
        let changed = newWeights != weights || newState != state || newReason != reason || newStep != stepIndex
        isStarted = true
        weights = newWeights
        state = newState
        reason = newReason
        stepIndex = newStep
        lastStepAt = stepStartedAt
        if changed {
            hasStepEvidence = false
            reportedInconclusive = false
            resetEvaluation(now: now)
        }
    }

    /// Moves to the next progressive step when due (see the type's documentation).
    public mutating func advance(now: UInt64) -> [RolloutAction] {
        var actions = start(now: now)
        guard state == .progressing, let p = route.progressive, let i = stepIndex,
              now >= lastStepAt, now - lastStepAt >= p.intervalNanos
        else { return actions }
        if let spec = route.rollback, !spec.dryRun {
            if lastEvaluationBreached { return actions }
            if p.requireEvidence && !hasStepEvidence {
                if !reportedInconclusive {
                    reportedInconclusive = true
                    let counts = lastEvaluation.map { e in
                        e.targets.map { "\(targetNames[$0.target]) \($0.figures.requests)" }.joined(separator: ", ")
                    } ?? "no evaluation yet"
                    actions.append(.event(type: "inconclusive", target: p.target, reason:
                        "step held: no passing evaluation with at least \(spec.minRequests) requests since the step (window requests: \(counts))"))
                }
                return actions
            }
        }
        if i + 1 < p.steps.count {
            if let gated = gate(before: i + 1) { return actions + gated }
            actions += applyStep(index: i + 1, now: now, cause: "progressive step after \(RolloutFormat.duration(nanos: p.intervalNanos))")
        } else {
            state = weights[p.target] >= 10_000 ? .promoted : .steady
        }
        return actions
    }

    /// When step `index` has a manual gate: moves to `awaiting_approval` and returns its event; else `nil`.
    private mutating func gate(before index: Int) -> [RolloutAction]? {
        guard let p = route.progressive, p.steps.indices.contains(index), p.gates.contains(p.steps[index]) else { return nil }
        state = .awaitingApproval
        return [.event(type: "awaiting_approval", target: p.target,
                       reason: "step to \(RolloutFormat.percent(basisPoints: p.steps[index])) (step \(index + 1) of \(p.steps.count)) waits for approval")]
    }

    /// Runs one rollback evaluation over `figures` (one per target, the window being `windowSeconds`
    /// long; missing entries are skipped) and, with sequential tests, feeds them `increment` (the traffic
    /// since their last batch). Returns the rollback actions when a target trips.
    public mutating func evaluate(
        now: UInt64, windowSeconds: Int, figures: [RolloutWindowFigures], increment: [RolloutWindowFigures]? = nil
    ) -> [RolloutAction] {
        guard let spec = route.rollback else { return [] }
        lastEvaluationAt = now
        let b = route.baseline
        let baseline = figures.indices.contains(b) ? figures[b] : nil
        let relative = spec.relativeToBaseline.flatMap { $0.method == .sequential ? $0 : nil }
        if let relative { feedSequential(relative, spec: spec, window: baseline, increment: increment) }

        var actions: [RolloutAction] = []
        var anyBreach = false
        var tripped: [(target: Int, reason: String)] = []
        var record = RolloutEvaluation(at: now, windowSeconds: windowSeconds, minRequests: spec.minRequests, baseline: b,
                                       baselineFigures: baseline.map(RolloutFiguresSummary.init),
                                       latencyThresholdMicros: latencyThresholdMicros, targets: [])
        for t in weights.indices where t != b && weights[t] > 0 && figures.indices.contains(t) {
            let c = figures[t]
            var (verdict, checks) = RolloutRules.judgement(candidate: c, baseline: baseline, spec: spec)
            var sequentialTrip: String?
            if let relative {
                let seq = sequentialChecks(target: t, relative)
                checks += seq
                let breached = seq.filter(\.breached).map(\.detail)
                if !breached.isEmpty { sequentialTrip = breached.joined(separator: " and ") }
            }
            let tail = "(window \(windowSeconds)s, \(c.requests) requests)"
            var outcome: RolloutOutcome
            switch verdict {
            case .noVerdict:
                outcome = .inconclusive
            case .healthy:
                consecutiveBreaches[t] = 0
                outcome = .passed
            case .breach(let description):
                anyBreach = true
                consecutiveBreaches[t] += 1
                let n = consecutiveBreaches[t]
                outcome = .breached
                if n >= spec.breachesToTrip {
                    let evaluations = n == 1 ? "1 evaluation" : "\(n) consecutive evaluations"
                    tripped.append((t, "\(description) in \(evaluations) \(tail)"))
                    outcome = .tripped
                } else {
                    actions.append(.log(warning: "route \(route.name): \(targetNames[t]) breached \(n)/\(spec.breachesToTrip): \(description) \(tail)"))
                }
            }
            if let sequentialTrip {
                anyBreach = true
                if outcome != .tripped { tripped.append((t, "sequential test: \(sequentialTrip)")) }
                outcome = .tripped
            }
            if outcome == .passed && now > lastStepAt { hasStepEvidence = true }
            if outcome == .tripped && spec.dryRun { outcome = .wouldRollBack }
            record.targets.append(TargetEvaluation(target: t, figures: RolloutFiguresSummary(c), outcome: outcome,
                                                   consecutiveBreaches: consecutiveBreaches[t], checks: checks))
        }
        lastEvaluation = record
        lastEvaluationBreached = anyBreach
        guard !tripped.isEmpty else { return actions }
        if spec.dryRun {
            for (t, why) in tripped {
                consecutiveBreaches[t] = 0
                if let relative { sequential[t] = SequentialTests(relative) }
                wouldRollBack[t] = why
                actions.append(.event(type: "would_roll_back", target: t, reason: "dry run: \(why)"))
                actions.append(.log(warning: "route \(route.name): dry run, would roll back \(targetNames[t]) to \(targetNames[b]): \(why)"))
            }
            return actions
        }
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

    /// Freezes the latency threshold when it becomes known, then adds `increment` to every candidate's tests.
    private mutating func feedSequential(
        _ relative: RelativeThresholds, spec: RollbackSpec, window: RolloutWindowFigures?, increment: [RolloutWindowFigures]?
    ) {
        // Traffic from before a baseline quantile was known is not fed to the latency test.
        var feedLatency = true
        if latencyThresholdMicros == nil {
            switch relative.latencyThreshold {
            case .micros(let t):
                latencyThresholdMicros = t
            case .baselineQuantile(let q):
                if let w = window, w.latencyCount >= UInt64(max(spec.minRequests, 1)) {
                    latencyThresholdMicros = w.quantileBoundMicros(q)
                    feedLatency = false
                }
            }
        }
        let b = route.baseline
        guard let increment, increment.indices.contains(b) else { return }
        let base = increment[b]
        let threshold = feedLatency ? latencyThresholdMicros : nil
        for t in sequential.indices where t != b && increment.indices.contains(t) {
            let c = increment[t]
            sequential[t].errors.add(candidateRequests: c.requests, candidateEvents: c.errors,
                                     baselineRequests: base.requests, baselineEvents: base.errors)
            if let threshold {
                sequential[t].latency.add(candidateRequests: c.latencyCount, candidateEvents: c.count(slowerThan: threshold),
                                          baselineRequests: base.latencyCount, baselineEvents: base.count(slowerThan: threshold))
            }
        }
    }

    /// The two sequential checks of target `t`, each at level `alpha / 2`.
    private func sequentialChecks(target t: Int, _ relative: RelativeThresholds) -> [RolloutCheck] {
        let alpha = relative.alpha / 2
        let bound = 1 / alpha
        func check(_ name: String, _ test: SequentialRatioTest, _ what: String, tolerance: Double) -> RolloutCheck {
            let lambda = test.statistic
            let breached = test.rejects(alpha: alpha)
            let counts = "\(what) \(test.candidateEvents)/\(test.candidateRequests) vs baseline \(test.baselineEvents)/\(test.baselineRequests)"
            let tol = tolerance == 1 ? "" : ", tolerance \(RolloutFormat.decimal(tolerance, maxFractionDigits: 3))x"
            let rel = breached ? ">=" : "<"
            return RolloutCheck(name: name, value: lambda, threshold: bound, breached: breached,
                                detail: "\(what) likelihood ratio \(RolloutFormat.decimal(lambda, maxFractionDigits: 2)) \(rel) \(RolloutFormat.decimal(bound, maxFractionDigits: 2)) (\(counts)\(tol))")
        }
        var checks = [check("sequential_errors", sequential[t].errors, "errors", tolerance: relative.maxErrorRatio)]
        if let threshold = latencyThresholdMicros {
            checks.append(check("sequential_latency", sequential[t].latency,
                                "slower than \(RolloutFormat.millis(micros: threshold))", tolerance: relative.maxSlowRatio))
        }
        return checks
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
        guard state == .progressing || state == .paused || state == .awaitingApproval || holding else {
            throw RolloutRefusal("route \(route.name) is \(state.rawValue); promote applies to a progressing, paused or awaiting_approval route")
        }
        let next = (stepIndex ?? -1) + 1
        if toFinal || next >= p.steps.count {
            actions += applyStep(index: p.steps.last == 10_000 ? p.steps.count - 1 : nil, now: now, cause: "operator promote")
        } else {
            actions += applyStep(index: next, now: now, cause: "operator promote")
        }
        return actions
    }

    /// Lets a route waiting at a manual gate take its gated step. Refused unless `awaiting_approval`.
    public mutating func approve(now: UInt64) throws(RolloutRefusal) -> [RolloutAction] {
        var actions = start(now: now)
        guard state == .awaitingApproval, let p = route.progressive else {
            throw RolloutRefusal("route \(route.name) is \(state.rawValue); approve applies to a route awaiting_approval")
        }
        let next = (stepIndex ?? -1) + 1
        actions.append(.event(type: "approval", target: p.target,
                              reason: "operator approved the step to \(RolloutFormat.percent(basisPoints: p.steps[next]))"))
        actions += applyStep(index: next, now: now, cause: "approved step")
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
        let relative = route.rollback?.relativeToBaseline ?? RelativeThresholds()
        sequential = Array(repeating: SequentialTests(relative), count: route.targets.count)
        // The current (partial) second is the first the sequential tests see.
        sequentialThroughSecond = now / 1_000_000_000 == 0 ? 0 : now / 1_000_000_000 - 1
        latencyThresholdMicros = nil
        wouldRollBack = Array(repeating: nil, count: route.targets.count)
    }

    /// Applies progressive step `index` (`nil`: 100 % beyond the configured steps) and returns the actions.
    private mutating func applyStep(index: Int?, now: UInt64, cause: String) -> [RolloutAction] {
        guard let p = route.progressive else { return [] }
        let bp = index.map { min(p.steps[$0], 10_000) } ?? 10_000
        weights = weights(forStep: bp)
        stepIndex = index
        lastStepAt = now
        hasStepEvidence = false
        reportedInconclusive = false
        if state == .awaitingApproval { state = .progressing }
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
