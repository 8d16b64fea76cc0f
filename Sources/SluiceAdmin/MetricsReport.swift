import SluiceCore
import SluiceProxy
import SluiceRouting
import SluiceStats

/// `GET /metrics`: the `/stats` figures in Prometheus text format 0.0.4, written with `PrometheusWriter`.
///
/// Every family is written once (`# HELP`/`# TYPE`) followed by all of its samples; per-route and
/// per-target series carry `route` and `target` labels, shadow series `route` and `backend`.
enum MetricsReport {
    /// The states a route can be in; `sluice_route_state` has one series per state (1 for the current).
    static let routeStates = ["steady", "progressing", "promoted", "rolled_back", "paused"]

    /// Families this report writes itself; a `GlobalCounter` with the same name is left out
    /// (`rollbacks` → `sluice_rollbacks_total`, exported per route instead).
    static let perRouteNames: Set<String> = ["sluice_rollbacks_total"]

    /// One (route, target) pair with its merged stats.
    struct TargetRow {
        /// Labels `route`, `target`.
        var labels: [(String, String)]
        /// Weight in percent.
        var weight: Double
        /// Merged stats.
        var stats: TargetSnapshot
    }

    /// Builds the exposition text.
    static func build(control: ControlPlane) -> [UInt8] {
        let snapshot = control.currentSnapshot
        let runtime = control.routeRuntime
        let now = MonotonicClock.now()
        let nowSecond = now / 1_000_000_000
        let table = snapshot.table

        var rows: [TargetRow] = []
        var shadows: [(labels: [(String, String)], stats: ShadowSnapshot)] = []
        var fields: [(labels: [(String, String)], stats: FieldSnapshot)] = []
        for (r, route) in table.routes.enumerated() {
            let window = StatsReport.windowSeconds(route)
            for (t, target) in route.targets.enumerated() {
                rows.append(TargetRow(
                    labels: routeLabels(route) + [("target", table.backends[target.backend].name)],
                    weight: Double(target.weight) / 100,
                    stats: snapshot.targetStats[r][t].snapshot(nowSecond: nowSecond, windowSeconds: window)))
            }
            if let spec = route.shadow, let stats = snapshot.shadowStats[r] {
                shadows.append((routeLabels(route) + [("backend", table.backends[spec.backend].name)],
                                stats.snapshot(nowSecond: nowSecond)))
                for f in stats.fields {
                    fields.append((routeLabels(route) + [("backend", table.backends[spec.backend].name), ("field", f.pointer), ("kind", f.kind.rawValue)],
                                   f.snapshot()))
                }
            }
        }

        var w = PrometheusWriter(capacity: 16 * 1024)
        writeTargets(&w, rows)
        w.family(name: "sluice_route_state", help: "Route state: 1 for the current state, 0 for the others.", type: .gauge)
        for route in table.routes {
            let current = runtime[route.name]?.state ?? "steady"
            var states = routeStates
            if !states.contains(current) { states.append(current) }
            for state in states {
                w.sample(name: "sluice_route_state", labels: routeLabels(route) + [("state", state)],
                         value: state == current ? 1 : 0)
            }
        }
        w.family(name: "sluice_rollbacks_total", help: "Rollback events of the route (operator and automatic).", type: .counter)
        for route in table.routes {
            let count = runtime[route.name]?.events.reduce(0) { $0 + ($1.type == "rollback" ? 1 : 0) } ?? 0
            w.sample(name: "sluice_rollbacks_total", labels: routeLabels(route), value: count)
        }
        writeShadows(&w, shadows)
        writeFields(&w, fields)
        writeEndpointHealth(&w, snapshot, now: now)
        writeGlobal(&w, snapshot.global)
        w.family(name: "sluice_uptime_seconds", help: "Seconds since the process started.", type: .gauge)
        w.sample(name: "sluice_uptime_seconds", value: StatsReport.uptimeSeconds(control, now: now))
        w.family(name: "sluice_config_version", help: "Configuration version; increments on every successful reload.", type: .gauge)
        w.sample(name: "sluice_config_version", value: control.configVersion)
        w.family(name: "sluice_ready", help: "1 while the proxy is ready to serve.", type: .gauge)
        w.sample(name: "sluice_ready", value: control.isReady ? 1 : 0)
        if let fleet = control.fleetStatus { FleetReport.writeMetrics(&w, fleet) }
        return w.bytes
    }

    /// Per-target families.
    static func writeTargets(_ w: inout PrometheusWriter, _ rows: [TargetRow]) {
        w.family(name: "sluice_requests_total", help: "Requests assigned to the target.", type: .counter)
        for row in rows { w.sample(name: "sluice_requests_total", labels: row.labels, value: row.stats.requests) }

        w.family(name: "sluice_responses_total", help: "Target responses by status class.", type: .counter)
        for row in rows {
            let s = row.stats
            let classes: [(String, UInt64)] = [("2xx", s.responses2xx), ("3xx", s.responses3xx), ("4xx", s.responses4xx),
                                               ("5xx", s.responses5xx), ("other", s.responsesOther)]
            for (cls, value) in classes {
                w.sample(name: "sluice_responses_total", labels: row.labels + [("class", cls)], value: value)
            }
        }

        w.family(name: "sluice_errors_total", help: "Target exchanges that failed (5xx, timeouts, connect failures, resets).", type: .counter)
        for row in rows { w.sample(name: "sluice_errors_total", labels: row.labels, value: row.stats.errors) }

        w.family(name: "sluice_target_weight", help: "Current weight of the target, percent.", type: .gauge)
        for row in rows { w.sample(name: "sluice_target_weight", labels: row.labels, value: row.weight) }

        w.family(name: "sluice_request_duration_seconds", help: "Upstream exchange latency of the target.", type: .histogram)
        for row in rows { w.histogram(name: "sluice_request_duration_seconds", labels: row.labels, snapshot: row.stats) }

        w.family(name: "sluice_window_requests", help: "Finished exchanges in the route's sliding window.", type: .gauge)
        for row in rows { w.sample(name: "sluice_window_requests", labels: row.labels, value: row.stats.window.requests) }

        w.family(name: "sluice_window_error_rate", help: "Error rate in the route's sliding window.", type: .gauge)
        for row in rows { w.sample(name: "sluice_window_error_rate", labels: row.labels, value: row.stats.window.errorRate) }

        w.family(name: "sluice_window_p99_seconds", help: "99th percentile latency in the route's sliding window.", type: .gauge)
        for row in rows { w.sample(name: "sluice_window_p99_seconds", labels: row.labels, value: row.stats.window.p99Ms / 1000) }
    }

    /// The labels naming a route: `route`, and `model` for a route that matches on one
    /// (`match.model`: the name; `match.model_prefix`: the prefix followed by `*`).
    static func routeLabels(_ route: Route) -> [(String, String)] {
        guard let model = route.model else { return [("route", route.name)] }
        return [("route", route.name), ("model", model.label)]
    }

    /// Per-field comparison families (`shadow.compare` in list form); labels `route`, `model`, `backend`,
    /// `field` (the pointer) and `kind`. A family appears only when some route compares a field of its kind.
    static func writeFields(_ w: inout PrometheusWriter, _ fields: [(labels: [(String, String)], stats: FieldSnapshot)]) {
        guard !fields.isEmpty else { return }
        func family(_ name: String, _ help: String, _ type: PrometheusMetricType, kind: String?,
                    _ value: (FieldSnapshot) -> Double) {
            let rows = fields.filter { kind == nil || $0.stats.kind == kind }
            guard !rows.isEmpty else { return }
            w.family(name: name, help: help, type: type)
            for f in rows { w.sample(name: name, labels: f.labels, value: value(f.stats)) }
        }
        family("sluice_shadow_field_compared_total", "Shadow answers compared on this field.", .counter, kind: nil) { Double($0.compared) }
        family("sluice_shadow_field_agreed_total", "Comparisons of this field that agreed.", .counter, kind: nil) { Double($0.agreed) }
        family("sluice_shadow_field_missing_total", "Answers where either side lacked this field.", .counter, kind: nil) { Double($0.missing) }
        let labels = fields.filter { $0.stats.kind == "label" }
        if !labels.isEmpty {
            let name = "sluice_shadow_field_disagreements_total"
            w.family(name: name, help: "Most frequent disagreeing label pairs (top 20 per field).", type: .counter)
            for f in labels {
                for p in f.stats.topPairs {
                    w.sample(name: name, labels: f.labels + [("primary", p.primary), ("shadow", p.shadow)], value: p.count)
                }
            }
        }
        family("sluice_shadow_field_mean_abs_difference", "Mean absolute difference, shadow vs primary.", .gauge, kind: "number") { $0.meanAbsDifference }
        family("sluice_shadow_field_max_difference", "Largest absolute difference, shadow vs primary.", .gauge, kind: "number") { $0.maxDifference }
        family("sluice_shadow_field_shadow_higher_ratio", "Share of comparisons where the shadow's number was higher.", .gauge, kind: "number") { $0.shadowHigherShare }
        family("sluice_shadow_field_shadow_lower_ratio", "Share of comparisons where the shadow's number was lower.", .gauge, kind: "number") { $0.shadowLowerShare }
        family("sluice_shadow_field_position_agreement_ratio", "Share of array positions equal in both answers.", .gauge, kind: "array") { $0.positionAgreement }
        family("sluice_shadow_field_mean_overlap_ratio", "Mean overlap of the arrays' elements (shared over all distinct).", .gauge, kind: "array") { $0.meanOverlap }
    }

    /// Shadow families (only routes with a shadow have series).
    static func writeShadows(_ w: inout PrometheusWriter, _ shadows: [(labels: [(String, String)], stats: ShadowSnapshot)]) {
        w.family(name: "sluice_shadow_mirrored_total", help: "Requests mirrored to the shadow backend.", type: .counter)
        for s in shadows { w.sample(name: "sluice_shadow_mirrored_total", labels: s.labels, value: s.stats.mirrored) }

        w.family(name: "sluice_shadow_dropped_total", help: "Requests selected for mirroring but dropped, by reason.", type: .counter)
        for s in shadows {
            for reason in ShadowDropReason.allCases {
                w.sample(name: "sluice_shadow_dropped_total", labels: s.labels + [("reason", reason.label)],
                         value: s.stats.droppedByReason[reason] ?? 0)
            }
        }

        w.family(name: "sluice_shadow_errors_total", help: "Mirrored exchanges that failed.", type: .counter)
        for s in shadows { w.sample(name: "sluice_shadow_errors_total", labels: s.labels, value: s.stats.errors) }

        w.family(name: "sluice_shadow_compared_total", help: "Shadow responses compared with the primary response.", type: .counter)
        for s in shadows { w.sample(name: "sluice_shadow_compared_total", labels: s.labels, value: s.stats.compared) }

        w.family(name: "sluice_shadow_agreed_total", help: "Shadow comparisons that agreed.", type: .counter)
        for s in shadows { w.sample(name: "sluice_shadow_agreed_total", labels: s.labels, value: s.stats.agreed) }

        w.family(name: "sluice_shadow_p99_seconds", help: "99th percentile shadow latency over the last 60 s.", type: .gauge)
        for s in shadows { w.sample(name: "sluice_shadow_p99_seconds", labels: s.labels, value: s.stats.p99Ms / 1000) }
    }

    /// `sluice_endpoint_healthy{backend,endpoint}` (active checks) and
    /// `sluice_endpoint_ejected_workers{backend,endpoint}` (passive ejection), one series per backend endpoint.
    static func writeEndpointHealth(_ w: inout PrometheusWriter, _ snapshot: ProxySnapshot, now: UInt64) {
        var rows: [(labels: [(String, String)], row: EndpointHealthRow)] = []
        for (b, backend) in snapshot.table.backends.enumerated() {
            for row in snapshot.endpointHealthRows(backend: b, now: now) {
                rows.append(([("backend", backend.name), ("endpoint", row.address)], row))
            }
        }
        w.family(name: "sluice_endpoint_healthy", help: "1 while active health checks consider the endpoint healthy.", type: .gauge)
        for r in rows { w.sample(name: "sluice_endpoint_healthy", labels: r.labels, value: r.row.healthy ? 1 : 0) }
        w.family(name: "sluice_endpoint_ejected_workers", help: "Workers currently ejecting the endpoint (passive outlier detection).", type: .gauge)
        for r in rows { w.sample(name: "sluice_endpoint_ejected_workers", labels: r.labels, value: r.row.ejectedWorkers) }
    }

    /// Process-wide counters (their `GlobalCounter.prometheusName`) and gauges.
    static func writeGlobal(_ w: inout PrometheusWriter, _ global: GlobalStats) {
        let counters = global.counterValues()
        for c in GlobalCounter.allCases where !perRouteNames.contains(c.prometheusName) {
            w.family(name: c.prometheusName, help: c.help, type: .counter)
            w.sample(name: c.prometheusName, value: counters[c.rawValue])
        }
        for g in GlobalGauge.allCases {
            w.family(name: g.prometheusName, help: g.help, type: .gauge)
            w.sample(name: g.prometheusName, value: global.value(g))
        }
    }
}
