import SluiceRouting
import SluiceStats

/// Stats objects by (route name, backend name), reused across reloads so figures of
/// routes and targets that still exist survive. Owned by the control plane (under its lock).
public final class StatsRegistry {
    /// Worker count (fixed for the process).
    public let workers: Int
    /// Process-wide counters.
    public let global: GlobalStats
    private var targets: [String: TargetStats] = [:]
    private var shadows: [String: ShadowStats] = [:]

    /// Creates an empty registry.
    public init(workers: Int) {
        self.workers = workers
        global = GlobalStats(workers: workers)
    }

    /// The stats of `backend` as a target of `route`, created on first use.
    public func target(route: String, backend: String, windowSeconds: Int) -> TargetStats {
        let key = route + "\u{0}" + backend
        if let s = targets[key] { return s }
        let s = TargetStats(workers: workers, windowSeconds: windowSeconds)
        targets[key] = s
        return s
    }

    /// The shadow stats of `route`, created on first use. Keyed by the compare fields too: a reload
    /// that changes `shadow.compare` starts the route's shadow figures afresh.
    public func shadow(route: String, fields: [CompareField] = []) -> ShadowStats {
        let key = fields.reduce(route) { $0 + "\u{0}" + $1.pointerText + "\u{0}" + $1.kind.rawValue }
        if let s = shadows[key] { return s }
        let s = ShadowStats(workers: workers, fields: fields.map { ($0.pointerText, FieldStats.Kind(rawValue: $0.kind.rawValue)!) })
        shadows[key] = s
        return s
    }

    /// Stats for every (route, target) of `table`, in table order.
    public func bind(_ table: RouteTable) -> (targets: [[TargetStats]], shadows: [ShadowStats?]) {
        var t: [[TargetStats]] = []
        var s: [ShadowStats?] = []
        for route in table.routes {
            let window = max(60, route.rollback?.windowSeconds ?? 60)
            t.append(route.targets.map { target(route: route.name, backend: table.backends[$0.backend].name, windowSeconds: window) })
            s.append(route.shadow.map { shadow(route: route.name, fields: $0.fields) })
        }
        return (t, s)
    }
}

