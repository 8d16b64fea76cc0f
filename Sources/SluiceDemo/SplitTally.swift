/// What the demo's traffic saw: responses per target (from `x-sluice-target`), statuses and failures,
/// rendered as a split table next to the configured weights and the admin API's counts.
public struct SplitTally: Sendable {
    /// Targets in the order first seen, with their response counts.
    public private(set) var targets: [(name: String, count: Int)] = []
    /// Responses per status code.
    public private(set) var statuses: [Int: Int] = [:]
    /// Requests that got no response, per reason.
    public private(set) var failures: [(reason: String, count: Int)] = []
    /// Sum of response latencies in microseconds, per target name.
    private var latencyMicros: [String: UInt64] = [:]

    /// Creates an empty tally.
    public init() {}

    /// Counts one response answered by `target` (nil: the response named no target) with `status`.
    public mutating func record(target: String?, status: Int, elapsedMicros: UInt64 = 0) {
        let name = target ?? "(no x-sluice-target)"
        if let i = targets.firstIndex(where: { $0.name == name }) { targets[i].count += 1 }
        else { targets.append((name, 1)) }
        statuses[status, default: 0] += 1
        latencyMicros[name, default: 0] += elapsedMicros
    }

    /// Counts one request that got no response, e.g. `connection refused`.
    public mutating func recordFailure(_ reason: String) {
        if let i = failures.firstIndex(where: { $0.reason == reason }) { failures[i].count += 1 }
        else { failures.append((reason, 1)) }
    }

    /// Responses received.
    public var responses: Int { targets.reduce(0) { $0 + $1.count } }

    /// Requests that failed without a response.
    public var failed: Int { failures.reduce(0) { $0 + $1.count } }

    /// Responses of `name`.
    public func count(of name: String) -> Int { targets.first { $0.name == name }?.count ?? 0 }

    /// A table with one row per target: responses seen, observed share, configured weight, mean latency and,
    /// when given, the requests the admin API counted. `configured` lists targets and weights in config order.
    public func render(configured: [(name: String, weight: Double)], admin: [String: Int]? = nil) -> String {
        var headings = ["TARGET", "RESPONSES", "OBSERVED", "CONFIGURED", "MEAN MS"]
        if admin != nil { headings.append("ADMIN /stats") }
        var table = TextTable(headings: headings, rightAligned: Set(1..<headings.count))
        var names = configured.map(\.name)
        for t in targets where !names.contains(t.name) { names.append(t.name) }
        let total = responses
        for name in names {
            let n = count(of: name)
            let observed = total == 0 ? "-" : NumberFormat.percent(Double(n) * 100 / Double(total))
            let weight = configured.first { $0.name == name }.map { NumberFormat.percent($0.weight) } ?? "-"
            let mean = n == 0 ? "-" : NumberFormat.fixed(Double(latencyMicros[name] ?? 0) / Double(n) / 1000, 2)
            var row = [name, String(n), observed, weight, mean]
            if let admin { row.append(admin[name].map(String.init) ?? "-") }
            table.add(row)
        }
        var out = table.render()
        let codes = statuses.keys.sorted().map { "\($0): \(statuses[$0]!)" }.joined(separator: ", ")
        out += "\n  statuses: " + (codes.isEmpty ? "none" : codes)
        if !failures.isEmpty {
            out += "\n  no response: " + failures.map { "\($0.count) × \($0.reason)" }.joined(separator: "; ")
        }
        return out
    }
}
