/// One rule applied in an evaluation: the statistic it computed against its threshold.
public struct RolloutCheck: Sendable, Hashable {
    /// The rule: `max_p99_latency`, `max_error_rate`, `p99_ratio`, `error_rate_delta`,
    /// `sequential_errors` or `sequential_latency`.
    public var name: String
    /// The statistic: p99 in ms, an error rate, a z score, or a sequential test's likelihood ratio Λ.
    public var value: Double
    /// What the statistic is compared with (breach when `value` is above it; Λ breaches at or above).
    public var threshold: Double
    /// Whether the rule was breached.
    public var breached: Bool
    /// The same in words, e.g. `error rate 0.031 > 0.02` or `Λ 3.2 < 40 (errors 12/1000 vs 95/19000)`.
    public var detail: String

    /// Creates a check result.
    public init(name: String, value: Double, threshold: Double, breached: Bool, detail: String) {
        self.name = name
        self.value = value
        self.threshold = threshold
        self.breached = breached
        self.detail = detail
    }
}

/// What an evaluation concluded for one candidate.
public enum RolloutOutcome: String, Sendable, Hashable {
    /// Every rule held with enough requests: evidence for the next progressive step.
    case passed
    /// A rule was breached, not yet `breaches_to_trip` times in a row.
    case breached
    /// The candidate was rolled back by this evaluation.
    case tripped
    /// Too few requests for a verdict (`min_requests`), on the candidate or, for relative rules, the baseline.
    case inconclusive
    /// Dry run: the candidate would have been rolled back; traffic did not move.
    case wouldRollBack = "would_roll_back"
}

/// Requests, errors and latency of one target over the evaluation's window.
public struct RolloutFiguresSummary: Sendable, Hashable {
    /// Finished exchanges in the window.
    public var requests: UInt64
    /// Errors among them.
    public var errors: UInt64
    /// Median latency, µs.
    public var p50Micros: UInt64
    /// 99th percentile latency, µs.
    public var p99Micros: UInt64

    /// The summary of `figures`.
    public init(_ figures: RolloutWindowFigures) {
        requests = figures.requests
        errors = figures.errors
        p50Micros = figures.p50Micros
        p99Micros = figures.p99Micros
    }

    /// `errors / requests`, 0 without requests.
    public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
}

/// One candidate's part of an evaluation.
public struct TargetEvaluation: Sendable, Hashable {
    /// Index into the route's targets.
    public var target: Int
    /// Its figures over the window.
    public var figures: RolloutFiguresSummary
    /// The verdict.
    public var outcome: RolloutOutcome
    /// Consecutive breaching evaluations after this one (window rules).
    public var consecutiveBreaches: Int
    /// Every rule applied, in order.
    public var checks: [RolloutCheck]
}

/// The numbers behind one rollback evaluation of a route: kept as the route's latest evaluation
/// in `/stats` and sent with notifications.
public struct RolloutEvaluation: Sendable, Hashable {
    /// Monotonic time of the evaluation, nanoseconds.
    public var at: UInt64
    /// Length of the window the window rules read, seconds.
    public var windowSeconds: Int
    /// `min_requests` in force.
    public var minRequests: Int
    /// The baseline's index among the route's targets.
    public var baseline: Int
    /// The baseline's figures over the window.
    public var baselineFigures: RolloutFiguresSummary?
    /// The sequential latency test's threshold once known (µs).
    public var latencyThresholdMicros: UInt64?
    /// One entry per candidate judged (non-baseline targets with weight > 0).
    public var targets: [TargetEvaluation]

    /// The route-level outcome: the worst of the candidates' (tripped, would roll back, breached,
    /// inconclusive, passed), `inconclusive` when no candidate was judged.
    public var outcome: RolloutOutcome {
        let order: [RolloutOutcome] = [.tripped, .wouldRollBack, .breached, .inconclusive, .passed]
        for o in order where targets.contains(where: { $0.outcome == o }) { return o }
        return .inconclusive
    }
}
