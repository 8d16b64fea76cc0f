import SluiceCore
import SluiceProxy
import SluiceRouting

/// The JSON of a rollback evaluation: the route's `evaluation` in `/stats` and the `evaluation` of a
/// notification. One encoding for both, so a webhook receiver reads what an operator sees.
public enum EvaluationReport {
    /// The notification body: `{route, event, target, state, reason, generation, time, evaluation}`.
    public static func notificationBody(_ n: RouteNotification) -> [UInt8] {
        let value = JSONValue.obj([
            "route": .string(n.route),
            "event": .string(n.event),
            "target": .optionalString(n.target),
            "state": .string(n.state),
            "reason": .string(n.reason),
            "generation": .uint(n.generation),
            "time": .string(StatsReport.iso8601(n.time)),
            "evaluation": n.evaluation.map { object($0, names: n.targetNames) } ?? .null,
        ])
        return value.serialized
    }

    /// An evaluation as JSON; `names` are the route's backend names by target index.
    static func object(_ e: RolloutEvaluation, names: [String]) -> JSONValue {
        let now = MonotonicClock.now()
        let age = now >= e.at ? Double(now - e.at) / 1e9 : 0
        func name(_ t: Int) -> String { names.indices.contains(t) ? names[t] : "target \(t)" }
        return .obj([
            "time": .string(StatsReport.iso8601(MonotonicClock.wallSeconds() - age)),
            "outcome": .string(e.outcome.rawValue),
            "window_seconds": .integer(e.windowSeconds),
            "min_requests": .integer(e.minRequests),
            "baseline": e.baselineFigures.map { figures($0, backend: name(e.baseline)) } ?? .null,
            "latency_threshold_ms": e.latencyThresholdMicros.map { .double(Double($0) / 1000) } ?? .null,
            "targets": .array(e.targets.map { t in
                var members = memberList(t.figures, backend: name(t.target))
                members.append(("outcome", .string(t.outcome.rawValue)))
                members.append(("consecutive_breaches", .integer(t.consecutiveBreaches)))
                members.append(("checks", .array(t.checks.map(check))))
                return .members(members)
            }),
        ])
    }

    /// One target's figures.
    static func figures(_ f: RolloutFiguresSummary, backend: String) -> JSONValue {
        .members(memberList(f, backend: backend))
    }

    private static func memberList(_ f: RolloutFiguresSummary, backend: String) -> [(String, JSONValue)] {
        [("backend", .string(backend)), ("requests", .uint(f.requests)), ("errors", .uint(f.errors)),
         ("error_rate", .double(f.errorRate)),
         ("p50_ms", .double(StatsReport.rounded(Double(f.p50Micros) / 1000))),
         ("p99_ms", .double(StatsReport.rounded(Double(f.p99Micros) / 1000)))]
    }

    /// One check: rule, statistic, threshold, verdict and the sentence.
    static func check(_ c: RolloutCheck) -> JSONValue {
        .obj([
            "rule": .string(c.name),
            "value": .double(c.value),
            "threshold": .double(c.threshold),
            "breached": .bool(c.breached),
            "detail": .string(c.detail),
        ])
    }
}
