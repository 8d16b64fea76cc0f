import SluiceConfig
import SluiceRouting

/// The route a simulation drives, taken from a real config: its definition (rollout specs included),
/// its target names, and which target is the candidate.
public struct SimulatedRoute: Sendable {
    /// The route as the rule engine gets it: configured weights replaced when a share was given, and
    /// `rollback.dry_run` off (a dry run would never move traffic; the simulation shows what enforcing
    /// the rules would do). ``wasDryRun`` tells whether the config had it on.
    public var route: Route
    /// Backend name of every target, in target order.
    public var targetNames: [String]
    /// Index into the route's targets of the candidate: the progressive target if any, else the first
    /// non-baseline target with weight > 0 (with a share given: the first non-baseline target).
    public var candidate: Int
    /// Whether the configured route has `rollback.dry_run: true` (simulated as enforced).
    public var wasDryRun: Bool
    /// The candidate's fixed share in basis points when given on the command line, else `nil`.
    public var shareOverride: Int?

    /// Creates a simulated route directly (tests); `candidate` must not be the baseline.
    public init(route: Route, targetNames: [String]? = nil, candidate: Int, shareOverride: Int? = nil) {
        precondition(route.targets.indices.contains(candidate) && candidate != route.baseline,
                     "the candidate must be a target other than the baseline")
        var r = route
        r.rollback?.dryRun = false
        if let share = shareOverride {
            for i in r.targets.indices { r.targets[i].weight = 0 }
            r.targets[candidate].weight = share
            r.targets[r.baseline].weight = 10_000 - share
        }
        self.route = r
        self.wasDryRun = route.rollback?.dryRun ?? false
        self.targetNames = targetNames ?? route.targets.indices.map { "target \($0)" }
        self.candidate = candidate
        self.shareOverride = shareOverride
    }

    /// The route named `name` in `config` (`nil`: the first route with `rollback`), with the candidate
    /// chosen as documented on ``candidate``. `shareBasisPoints` sets the candidate's share (the baseline
    /// gets the rest, every other target 0) and is refused on routes with `progressive`, whose steps
    /// drive the share.
    public init(config: SluiceConfig, routeName name: String?, shareBasisPoints: Int?) throws(SimulationSetupError) {
        let table = config.routeTable
        let route: Route
        if let name {
            guard let r = table.routes.first(where: { $0.name == name }) else {
                let known = table.routes.map(\.name).joined(separator: ", ")
                throw .init("no route named `\(name)` in the config (routes: \(known))")
            }
            route = r
        } else {
            guard let r = table.routes.first(where: { $0.rollback != nil }) else {
                throw .init("no route in the config has `rollback`; name one with --route NAME")
            }
            route = r
        }
        let names = route.targets.map { table.backends[$0.backend].name }
        let others = route.targets.indices.filter { $0 != route.baseline }
        guard !others.isEmpty else {
            throw .init("route `\(route.name)` has a single target: there is no candidate to simulate")
        }
        let candidate: Int
        if let p = route.progressive {
            if shareBasisPoints != nil {
                throw .init("route `\(route.name)` has `progressive`: its steps drive the candidate's share, so --share does not apply")
            }
            candidate = p.target
        } else if let firstLive = others.first(where: { route.targets[$0].weight > 0 }) {
            candidate = firstLive
        } else if shareBasisPoints != nil {
            candidate = others[0]
        } else {
            throw .init("route `\(route.name)` gives no target but the baseline any weight: give the candidate a share with --share PERCENT")
        }
        if let share = shareBasisPoints, !(1...10_000).contains(share) {
            throw .init("--share must be above 0 and at most 100")
        }
        self.init(route: route, targetNames: names, candidate: candidate, shareOverride: shareBasisPoints)
    }

    /// The baseline's index into the route's targets.
    public var baseline: Int { route.baseline }

    /// Seconds of the rollback window (1 without `rollback`).
    var windowSeconds: Int { max(route.rollback?.windowSeconds ?? 1, 1) }

    /// `evaluate_every` in whole seconds, rounded up (1 without `rollback`).
    var evaluateEverySeconds: Int {
        guard let nanos = route.rollback?.evaluateEveryNanos else { return 1 }
        return max(Int((nanos + 999_999_999) / 1_000_000_000), 1)
    }

    /// How the candidate's share evolves, for the report: `progressive steps 1, 5, 25, 50, 100% every 10m`
    /// or `fixed 5%`.
    public var shareDescription: String {
        if let p = route.progressive {
            let steps = p.steps.map { Percent.format(basisPoints: $0) }.joined(separator: ", ")
            return "progressive steps \(steps)% every \(SimulationFormat.duration(seconds: Int(p.intervalNanos / 1_000_000_000)))"
        }
        return "fixed \(Percent.format(basisPoints: route.targets[candidate].weight))%"
    }

    /// The rollback rules in the config's words, for the report: `window 60s every 5s, min_requests 100,
    /// breaches_to_trip 3; max_error_rate 0.02; relative sequential (alpha 0.05, …)`.
    public var rulesDescription: String {
        guard let spec = route.rollback else { return "none: the route has no rollback" }
        let n = LatencyText.number
        var parts = ["window \(spec.windowSeconds)s every \(SimulationFormat.duration(nanos: spec.evaluateEveryNanos)), min_requests \(spec.minRequests), breaches_to_trip \(spec.breachesToTrip)"]
        if let limit = spec.maxP99Micros { parts.append("max_p99_latency \(LatencyText.format(micros: Double(limit)))") }
        if let limit = spec.maxErrorRate { parts.append("max_error_rate \(n(limit))") }
        if let r = spec.relativeToBaseline {
            switch r.method {
            case .zTest:
                var z: [String] = []
                if let ratio = r.p99Ratio { z.append("p99_ratio \(n(ratio))") }
                if let delta = r.errorRateDelta { z.append("error_rate_delta \(n(delta))") }
                parts.append("relative z_test (" + z.joined(separator: ", ") + ")")
            case .sequential:
                let threshold: String
                switch r.latencyThreshold {
                case .micros(let t): threshold = LatencyText.format(micros: Double(t))
                case .baselineQuantile(let q): threshold = "baseline p\(n(q * 100))"
                }
                parts.append("relative sequential (alpha \(n(r.alpha)), max_error_ratio \(n(r.maxErrorRatio)), latency_threshold \(threshold), max_slow_ratio \(n(r.maxSlowRatio)))")
            }
        }
        var text = parts.joined(separator: "; ")
        if wasDryRun { text += "; dry_run in the config, simulated as enforced" }
        if let gates = route.progressive?.gates, !gates.isEmpty { text += "; manual gates approved at once" }
        return text
    }
}
