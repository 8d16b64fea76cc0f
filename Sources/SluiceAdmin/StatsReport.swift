import Glibc
import SluiceCore
import SluiceProxy
import SluiceRouting
import SluiceStats

/// `GET /stats`: one JSON document with every route's state, targets, window figures, shadow and
/// events, plus uptime, config version and the process-wide counters.
enum StatsReport {
    /// Default window (seconds) shown for routes without a rollback spec.
    static let defaultWindowSeconds = 60

    /// Builds the document from the current snapshot and runtime state.
    static func build(control: ControlPlane) -> JSONValue {
        let snapshot = control.currentSnapshot
        let runtime = control.routeRuntime
        let now = MonotonicClock.now()
        let nowSecond = now / 1_000_000_000
        let table = snapshot.table
        var routes: [JSONValue] = []
        for (r, route) in table.routes.enumerated() {
            let machine = route.progressive == nil ? nil : control.rolloutMachine(route: route.name)
            routes.append(routeObject(route, index: r, snapshot: snapshot, runtime: runtime[route.name],
                                      nowSecond: nowSecond, rollout: machine.map { progressObject($0, table: table, now: now) }))
        }
        let fleet = control.fleetStatus
        if fleet != nil {
            for (r, route) in table.routes.enumerated() {
                guard case .object(var members) = routes[r] else { continue }
                members.append(JSONValue.Member(key: "fleet", value: FleetReport.routeObject(control: control, route: route, table: table)))
                routes[r] = .object(members)
            }
        }
        return .obj([
            "uptime_seconds": .double(uptimeSeconds(control, now: now)),
            "config_version": .integer(control.configVersion),
            "ready": .bool(control.isReady),
            "fleet": fleet.map(FleetReport.statsObject) ?? .null,
            "routes": .array(routes),
            "global": globalObject(snapshot.global),
        ])
    }

    /// Seconds since the control plane started, millisecond resolution.
    static func uptimeSeconds(_ control: ControlPlane, now: UInt64) -> Double {
        let nanos = now >= control.startedAt ? now - control.startedAt : 0
        return (Double(nanos / 1_000_000) / 1000)
    }

    /// Window length shown for a route: its rollback window, else 60 s.
    static func windowSeconds(_ route: Route) -> Int {
        route.rollback?.windowSeconds ?? defaultWindowSeconds
    }

    /// One entry of `routes[]`.
    static func routeObject(_ route: Route, index r: Int, snapshot: ProxySnapshot, runtime: RouteRuntime?,
                            nowSecond: UInt64, rollout: JSONValue? = nil) -> JSONValue {
        let table = snapshot.table
        let window = windowSeconds(route)
        var targets: [JSONValue] = []
        for (t, target) in route.targets.enumerated() {
            let stats = snapshot.targetStats[r][t].snapshot(nowSecond: nowSecond, windowSeconds: window)
            let endpoints = snapshot.endpointHealthRows(backend: target.backend, now: MonotonicClock.now())
            targets.append(targetObject(backend: table.backends[target.backend].name, weight: target.weight, stats, endpoints: endpoints))
        }
        var members: [(String, JSONValue)] = [
            ("name", .string(route.name)),
            ("state", .string(runtime?.state ?? "steady")),
        ]
        if let model = route.model { members.append(("model", .string(model.label))) }
        if let reason = runtime?.reason { members.append(("reason", .string(reason))) }
        members.append(("baseline", .string(table.backends[route.targets[route.baseline].backend].name)))
        members.append(("targets", .array(targets)))
        if let rollout { members.append(("rollout", rollout)) }
        var shadow = JSONValue.null
        if let spec = route.shadow, let stats = snapshot.shadowStats[r] {
            shadow = shadowObject(backend: table.backends[spec.backend].name, stats.snapshot(nowSecond: nowSecond))
            if !stats.fields.isEmpty, case .object(var m) = shadow {
                m.append(.init(key: "fields", value: .array(stats.fields.map { fieldObject($0.snapshot()) })))
                shadow = .object(m)
            }
        }
        members.append(("shadow", shadow))
        if route.rollback != nil {
            members.append(("evaluation", runtime?.evaluation.map { EvaluationReport.object($0, names: runtime?.targetNames ?? []) } ?? .null))
        }
        if route.rollback?.dryRun == true {
            members.append(("dry_run", .bool(true)))
            members.append(("would_roll_back", .array((runtime?.wouldRollBack ?? []).map {
                .obj(["backend": .string($0.backend), "reason": .string($0.reason)])
            })))
        }
        members.append(("events", .array((runtime?.events ?? []).map(eventObject))))
        return .members(members)
    }

    /// A progressive route's `rollout`: the target, its step k of n, the steps and gates (percent), and
    /// the seconds until the next step is due (null unless progressing with a step left).
    static func progressObject(_ m: RolloutStateMachine, table: RouteTable, now: UInt64) -> JSONValue {
        guard let p = m.route.progressive else { return .null }
        var next = JSONValue.null
        if m.state == .progressing, let i = m.stepIndex, i + 1 < p.steps.count {
            let elapsed = now >= m.lastStepAt ? now - m.lastStepAt : 0
            let left = elapsed >= p.intervalNanos ? 0 : p.intervalNanos - elapsed
            next = .double(Double(left / 1_000_000) / 1000)
        }
        return .obj([
            "target": .string(table.backends[m.route.targets[p.target].backend].name),
            "step": m.stepIndex.map { .integer($0 + 1) } ?? .integer(0),
            "steps": .integer(p.steps.count),
            "step_percents": .array(p.steps.map { .double(Double($0) / 100) }),
            "gates": .array(p.gates.map { .double(Double($0) / 100) }),
            "interval_seconds": .double(Double(p.intervalNanos / 1_000_000) / 1000),
            "next_step_in_seconds": next,
        ])
    }

    /// One entry of `targets[]`; `endpoints` are the health rows of the target's backend.
    static func targetObject(backend: String, weight: Int, _ s: TargetSnapshot, endpoints: [EndpointHealthRow] = []) -> JSONValue {
        .obj([
            "backend": .string(backend),
            "weight": .double(Double(weight) / 100),
            "requests": .uint(s.requests),
            "responses": .obj([
                "2xx": .uint(s.responses2xx),
                "3xx": .uint(s.responses3xx),
                "4xx": .uint(s.responses4xx),
                "5xx": .uint(s.responses5xx),
            ]),
            "errors": .uint(s.errors),
            "window": .obj([
                "seconds": .integer(s.window.seconds),
                "requests": .uint(s.window.requests),
                "error_rate": .double(s.window.errorRate),
                "p50_ms": .double(rounded(s.window.p50Ms)),
                "p90_ms": .double(rounded(s.window.p90Ms)),
                "p99_ms": .double(rounded(s.window.p99Ms)),
            ]),
            "endpoints": .array(endpoints.map(endpointObject)),
        ])
    }

    /// One entry of a target's `endpoints[]`.
    static func endpointObject(_ e: EndpointHealthRow) -> JSONValue {
        .obj([
            "address": .string(e.address),
            "healthy": .bool(e.healthy),
            "ejected_workers": .integer(e.ejectedWorkers),
            "consecutive_failures": .integer(e.consecutiveFailures),
            "passive_consecutive_failures": .integer(e.passiveConsecutiveFailures),
        ])
    }

    /// The route's `shadow` object.
    static func shadowObject(backend: String, _ s: ShadowSnapshot) -> JSONValue {
        let byReason = ShadowDropReason.allCases.map { ($0.label, JSONValue.uint(s.droppedByReason[$0] ?? 0)) }
        return .obj([
            "backend": .string(backend),
            "mirrored": .uint(s.mirrored),
            "dropped": .uint(s.dropped),
            "dropped_by_reason": .members(byReason),
            "errors": .uint(s.errors),
            "p99_ms": .double(rounded(s.p99Ms)),
            "compared": .uint(s.compared),
            "agreed": .uint(s.agreed),
            "agreement_rate": s.compared == 0 ? .null : .double(s.agreementRate),
        ])
    }

    /// One entry of `shadow.fields[]` (`shadow.compare` in list form): the figures of its kind.
    static func fieldObject(_ f: FieldSnapshot) -> JSONValue {
        var m: [(String, JSONValue)] = [
            ("pointer", .string(f.pointer)),
            ("kind", .string(f.kind)),
            ("compared", .uint(f.compared)),
            ("agreed", .uint(f.agreed)),
            ("missing", .uint(f.missing)),
            ("agreement_rate", f.compared == 0 ? .null : .double(f.agreementRate)),
        ]
        switch f.kind {
        case "label":
            m.append(("disagreements", .array(f.topPairs.map {
                .obj(["primary": .string($0.primary), "shadow": .string($0.shadow), "count": .uint($0.count)])
            })))
            m.append(("other_disagreements", .uint(f.otherPairs)))
        case "number":
            m.append(("mean_abs_difference", f.compared == 0 ? .null : .double(f.meanAbsDifference)))
            m.append(("max_difference", f.compared == 0 ? .null : .double(f.maxDifference)))
            m.append(("shadow_higher_share", f.compared == 0 ? .null : .double(f.shadowHigherShare)))
            m.append(("shadow_lower_share", f.compared == 0 ? .null : .double(f.shadowLowerShare)))
        default:
            m.append(("position_agreement", f.compared == 0 ? .null : .double(f.positionAgreement)))
            m.append(("mean_overlap", f.compared == 0 ? .null : .double(f.meanOverlap)))
        }
        return .members(m)
    }

    /// One entry of `events[]`.
    static func eventObject(_ e: RouteEvent) -> JSONValue {
        .obj([
            "time": .string(iso8601(e.time)),
            "type": .string(e.type),
            "target": .optionalString(e.target),
            "reason": .string(e.reason),
        ])
    }

    /// Process-wide counters and gauges by snake_case name (`connections_accepted`, `open_client_connections`).
    static func globalObject(_ global: GlobalStats) -> JSONValue {
        let counters = global.counterValues()
        var members: [(String, JSONValue)] = GlobalCounter.allCases.map { ($0.jsonName, .uint(counters[$0.rawValue])) }
        for g in GlobalGauge.allCases { members.append((g.jsonName, .integer(global.value(g)))) }
        return .members(members)
    }

    /// Milliseconds rounded to 3 decimals (microseconds): the histogram is no more precise than that.
    static func rounded(_ ms: Double) -> Double {
        (ms * 1000).rounded() / 1000
    }

    /// `2026-11-03T09:15:02.123Z` for wall-clock seconds since the epoch.
    static func iso8601(_ seconds: Double) -> String {
        let whole = seconds.rounded(.down)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        let millis = min(999, max(0, Int(((seconds - whole) * 1000).rounded(.down))))
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

extension GlobalCounter {
    /// Name in `/stats` `global`: the Prometheus name without `sluice_` and `_total`.
    var jsonName: String {
        String(prometheusName.dropFirst("sluice_".count).dropLast("_total".count))
    }
}

extension GlobalGauge {
    /// Name in `/stats` `global`: the Prometheus name without `sluice_`.
    var jsonName: String {
        String(prometheusName.dropFirst("sluice_".count))
    }
}
