import SluiceStats
/// The printed result of `sluice simulate`: a readable table, or one JSON object.
public enum SimulationReport {
    /// The setup and the figures as aligned `label  value` lines.
    ///
    /// A healthy candidate's rate is labelled `false-rollback rate` and its delays `time to false
    /// rollback`; a bad candidate's are `rollback rate` and `detection delay` (from `--bad-from`).
    public static func table(_ result: SimulationResult, configPath: String? = nil) -> String {
        let plan = result.plan
        let route = plan.route
        let traffic = plan.traffic
        let s = SimulationSummary(result)
        var lines: [(String, String)] = []
        let source = configPath.map { " (\($0))" } ?? ""
        lines.append(("route", route.route.name + source))
        lines.append(("baseline", "\(route.targetNames[route.baseline]): \(traffic.baseline)"))
        let from = traffic.badFromSecond > 0 ? " from \(SimulationFormat.duration(seconds: traffic.badFromSecond))" : ""
        let candidateModel = traffic.isCandidateHealthy ? "same as the baseline" : "\(traffic.candidate)\(from)"
        lines.append(("candidate", "\(route.targetNames[route.candidate]): \(candidateModel); \(route.shareDescription)"))
        lines.append(("traffic", "\(LatencyText.number(traffic.requestsPerSecond)) req/s (Poisson), \(SimulationFormat.duration(seconds: traffic.durationSeconds)) per run, seed \(plan.seed)"))
        lines.append(("rules", route.rulesDescription))
        lines.append(("", ""))
        lines.append(("runs", "\(s.rollbacks.total)"))
        let ci = s.rollbacks.wilson95
        let rate = "\(s.rollbacks.count) of \(s.rollbacks.total) = \(SimulationFormat.percent(s.rollbacks.rate)) (95% CI \(SimulationFormat.percent(ci.lowerBound))–\(SimulationFormat.percent(ci.upperBound)))"
        lines.append((s.healthy ? "false-rollback rate" : "rollback rate", rate))
        if !s.healthy && traffic.badFromSecond > 0 {
            lines.append(("before it turned bad", "\(s.rollbacksBeforeBad) (false rollbacks)"))
        }
        let delayLabel = s.healthy ? "time to false rollback" : "detection delay"
        if let d = s.delays {
            lines.append((delayLabel, "p50 \(d.p50)s  p90 \(d.p90)s  p99 \(d.p99)s"))
        } else {
            lines.append((delayLabel, "-"))
        }
        if let p = s.promotionTimes {
            lines.append(("promoted", "\(s.promotions) runs, after p50 \(SimulationFormat.duration(seconds: p.p50))  p90 \(SimulationFormat.duration(seconds: p.p90))  p99 \(SimulationFormat.duration(seconds: p.p99))"))
        }
        lines.append(("final states", s.finalStates.map { "\($0.state.rawValue) \($0.runs)" }.joined(separator: ", ")))
        if let reason = s.exampleReason { lines.append(("example reason", reason)) }
        lines.append(("wall time", "\(SimulationFormat.wall(s.wallSeconds)) (\(SimulationFormat.count(s.requests)) simulated requests, \(plan.threads) thread\(plan.threads == 1 ? "" : "s"))"))
        let width = lines.map(\.0.count).max() ?? 0
        return lines.map { label, value in
            label.isEmpty ? "" : label + String(repeating: " ", count: width - label.count + 2) + value
        }.joined(separator: "\n")
    }

    /// The same figures as one JSON object (keys in snake_case; delays in seconds, `null` when none).
    public static func json(_ result: SimulationResult, configPath: String? = nil) -> String {
        let plan = result.plan
        let route = plan.route
        let traffic = plan.traffic
        let s = SimulationSummary(result)
        let str = JSONText.quote
        func num(_ x: Double) -> String { LatencyText.number(x) }
        func percentiles(_ p: SecondsPercentiles?) -> String {
            guard let p else { return "null" }
            return "{\"p50\": \(p.p50), \"p90\": \(p.p90), \"p99\": \(p.p99)}"
        }
        func behaviour(_ b: BackendBehaviour) -> String {
            "{\"error_rate\": \(num(b.errorRate)), \"latency\": \(str(b.latency.description))}"
        }
        let ci = s.rollbacks.wilson95
        var fields: [(String, String)] = [
            ("route", str(route.route.name)),
            ("config", configPath.map(str) ?? "null"),
            ("baseline", str(route.targetNames[route.baseline])),
            ("candidate", str(route.targetNames[route.candidate])),
            ("share", str(route.shareDescription)),
            ("rules", str(route.rulesDescription)),
            ("rps", num(traffic.requestsPerSecond)),
            ("duration_seconds", "\(traffic.durationSeconds)"),
            ("runs", "\(s.rollbacks.total)"),
            ("seed", "\(plan.seed)"),
            ("baseline_model", behaviour(traffic.baseline)),
            ("candidate_model", behaviour(traffic.candidate)),
            ("bad_from_seconds", "\(traffic.badFromSecond)"),
            ("healthy_candidate", s.healthy ? "true" : "false"),
            ("rollbacks", "\(s.rollbacks.count)"),
            ("rollback_rate", num(s.rollbacks.rate)),
            ("rollback_rate_ci95", "[\(num(ci.lowerBound)), \(num(ci.upperBound))]"),
            ("rollbacks_before_bad", "\(s.rollbacksBeforeBad)"),
            (s.healthy ? "time_to_false_rollback_seconds" : "detection_delay_seconds", percentiles(s.delays)),
            ("promotions", "\(s.promotions)"),
            ("promotion_seconds", percentiles(s.promotionTimes)),
            ("final_states", "{" + s.finalStates.map { "\(str($0.state.rawValue)): \($0.runs)" }.joined(separator: ", ") + "}"),
            ("example_reason", s.exampleReason.map(str) ?? "null"),
            ("simulated_requests", "\(s.requests)"),
            ("threads", "\(plan.threads)"),
        ]
        fields.append(("wall_seconds", SimulationFormat.rounded(s.wallSeconds, digits: 3)))
        return "{\n" + fields.map { "  \(str($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}"
    }
}
