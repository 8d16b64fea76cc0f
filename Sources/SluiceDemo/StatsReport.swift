import Foundation

/// Renders the admin API's `GET /stats` JSON as a readable table (used by `sluice stats` and the demo).
///
/// It reads the documented shape: top-level `routes` (an array of route objects, or an object keyed by
/// route name), `uptime_seconds`, `config_version`; per route `name`, `state`, `baseline`, `targets[]`,
/// `shadow`, `events[]`; per target `backend`, `weight`, `requests`, `responses` {`2xx`, ...}, `errors`,
/// `window` {`seconds`, `requests`, `error_rate`, `p50_ms`, `p90_ms`, `p99_ms`}. Missing fields show as `-`.
public enum StatsReport {
    /// The report for a `/stats` body, or nil when the body is not a JSON object.
    public static func render(body: [UInt8], source: String? = nil) -> String? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return nil }
        return render(object, source: source)
    }

    /// `fleet fraud-prod · instance pod-a · connected · leader pod-b · 3 members (pod-a, pod-b, pod-c) · generation 12`.
    static func fleetLine(_ f: [String: Any]) -> String {
        var parts = ["fleet \(f["name"] as? String ?? "?")", "instance \(f["instance"] as? String ?? "?")"]
        parts.append((f["connected"] as? Bool ?? false) ? "connected" : "DISCONNECTED from etcd")
        let leader = f["leader"] as? String
        parts.append("leader \(leader ?? "none")\((f["is_leader"] as? Bool ?? false) ? " (this replica)" : "")")
        let members = f["members"] as? [String] ?? []
        parts.append("\(members.count) member\(members.count == 1 ? "" : "s") (\(members.joined(separator: ", ")))")
        parts.append("generation \(f["generation"] ?? 0)")
        return parts.joined(separator: " · ")
    }

    /// The report for a parsed `/stats` object; `source` (e.g. the admin address) goes in the title line.
    public static func render(_ stats: [String: Any], source: String? = nil) -> String {
        var title = "sluice stats"
        if let source { title += " from \(source)" }
        if let up = number(stats["uptime_seconds"]) { title += " · uptime \(NumberFormat.fixed(up, 0))s" }
        if let v = stats["config_version"] { title += " · config version \(v)" }
        var lines = [title]
        if let fleet = stats["fleet"] as? [String: Any] { lines.append(fleetLine(fleet)) }
        let routes = routeObjects(stats)
        if routes.isEmpty { lines.append("  (no routes)") }
        for route in routes {
            lines.append("")
            lines.append(routeTitle(route))
            lines.append(targetTable(route))
            if let shadow = route["shadow"] as? [String: Any] { lines.append(shadowLine(shadow)) }
            if let evaluation = route["evaluation"] as? [String: Any] { lines += evaluationLines(evaluation) }
            for would in (route["would_roll_back"] as? [[String: Any]]) ?? [] {
                lines.append("  dry run: would roll back \(would["backend"] as? String ?? "?"): \(would["reason"] as? String ?? "")")
            }
            let events = (route["events"] as? [[String: Any]]) ?? []
            if !events.isEmpty {
                lines.append("  events (latest last):")
                for e in events.suffix(5) {
                    let parts = ["time", "type", "target", "reason"].compactMap { k -> String? in
                        guard let v = e[k], !(v is NSNull) else { return nil }
                        return "\(v)"
                    }
                    lines.append("    " + parts.joined(separator: "  "))
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Requests per target backend of route `name` (all routes when nil), for comparing with client-side counts.
    public static func targetRequests(_ stats: [String: Any], route name: String? = nil) -> [String: Int] {
        var out: [String: Int] = [:]
        for route in routeObjects(stats) where name == nil || (route["name"] as? String) == name {
            for t in targets(route) {
                guard let backend = t["backend"] as? String else { continue }
                out[backend, default: 0] += Int(number(t["requests"]) ?? 0)
            }
        }
        return out
    }

    /// Weights in percent per target backend of route `name` (all routes when nil).
    public static func targetWeights(_ stats: [String: Any], route name: String? = nil) -> [String: Double] {
        var out: [String: Double] = [:]
        for route in routeObjects(stats) where name == nil || (route["name"] as? String) == name {
            for t in targets(route) {
                guard let backend = t["backend"] as? String, let w = number(t["weight"]) else { continue }
                out[backend] = w
            }
        }
        return out
    }

    /// Route objects in order; accepts an array or an object keyed by name.
    static func routeObjects(_ stats: [String: Any]) -> [[String: Any]] {
        if let list = stats["routes"] as? [[String: Any]] { return list }
        if let dict = stats["routes"] as? [String: Any] {
            return dict.keys.sorted().compactMap { key in
                guard var r = dict[key] as? [String: Any] else { return nil }
                if r["name"] == nil { r["name"] = key }
                return r
            }
        }
        return []
    }

    private static func targets(_ route: [String: Any]) -> [[String: Any]] {
        (route["targets"] as? [[String: Any]]) ?? []
    }

    /// `  evaluation passed (window 60s, min 100 requests)` and one line per candidate check.
    private static func evaluationLines(_ e: [String: Any]) -> [String] {
        var lines = ["  evaluation \(e["outcome"] as? String ?? "-") (window \(integer(e["window_seconds"]))s, min \(integer(e["min_requests"])) requests)"]
        for t in (e["targets"] as? [[String: Any]]) ?? [] {
            let head = "    \(t["backend"] as? String ?? "?") \(t["outcome"] as? String ?? "-"), \(integer(t["requests"])) requests"
            let checks = ((t["checks"] as? [[String: Any]]) ?? []).compactMap { c -> String? in
                guard let rule = c["rule"] as? String, let detail = c["detail"] as? String else { return nil }
                return "\(rule): \(detail)"
            }
            lines.append(([head] + checks).joined(separator: "; "))
        }
        return lines
    }

    private static func routeTitle(_ route: [String: Any]) -> String {
        var s = "route \(route["name"] as? String ?? "?")"
        s += "  state \(route["state"] as? String ?? "-")"
        if let b = route["baseline"] as? String { s += "  baseline \(b)" }
        if let w = (targets(route).first?["window"] as? [String: Any]).flatMap({ number($0["seconds"]) }) {
            s += "  window \(NumberFormat.fixed(w, 0))s"
        }
        return s
    }

    private static func targetTable(_ route: [String: Any]) -> String {
        var table = TextTable(headings: ["TARGET", "WEIGHT", "REQUESTS", "2XX", "5XX", "ERRORS", "P50 MS", "P99 MS", "ERR RATE"],
                              rightAligned: Set(1...8))
        for t in targets(route) {
            let responses = t["responses"] as? [String: Any] ?? [:]
            let window = t["window"] as? [String: Any] ?? [:]
            table.add([
                t["backend"] as? String ?? "?",
                number(t["weight"]).map { NumberFormat.fixed($0, 2) + "%" } ?? "-",
                integer(t["requests"]),
                integer(responses["2xx"]),
                integer(responses["5xx"]),
                integer(t["errors"]),
                number(window["p50_ms"]).map { NumberFormat.fixed($0, 2) } ?? "-",
                number(window["p99_ms"]).map { NumberFormat.fixed($0, 2) } ?? "-",
                number(window["error_rate"]).map { NumberFormat.percent($0 * 100) } ?? "-",
            ])
        }
        if table.rows.isEmpty { return "  (no targets)" }
        return table.render()
    }

    private static func shadowLine(_ s: [String: Any]) -> String {
        var parts = ["mirrored \(integer(s["mirrored"]))", "dropped \(integer(s["dropped"]))", "errors \(integer(s["errors"]))"]
        if let p99 = number(s["p99_ms"]) { parts.append("p99 \(NumberFormat.fixed(p99, 2)) ms") }
        if let compared = number(s["compared"]) {
            var c = "compared \(Int(compared))"
            if let agreed = number(s["agreed"]) {
                c += " · agreed \(Int(agreed))"
                if compared > 0 { c += " (\(NumberFormat.percent(agreed * 100 / compared)))" }
            }
            parts.append(c)
        }
        return "  shadow \(s["backend"] as? String ?? "?"): " + parts.joined(separator: " · ")
    }

    private static func number(_ v: Any?) -> Double? {
        if let n = v as? NSNumber { return n.doubleValue }
        if let s = v as? String { return Double(s) }
        return nil
    }

    private static func integer(_ v: Any?) -> String {
        number(v).map { String(Int($0)) } ?? "-"
    }
}
