import SluiceRouting

/// p50, p90 and p99 of a set of whole seconds (nearest rank: the value of rank `ceil(q·n)`).
public struct SecondsPercentiles: Sendable, Hashable {
    /// Median.
    public var p50: Int
    /// 90th percentile.
    public var p90: Int
    /// 99th percentile.
    public var p99: Int

    /// The percentiles of `values`, or `nil` when there are none.
    public init?(_ values: [Int]) {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ q: Double) -> Int {
            let r = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[min(max(r, 1), sorted.count) - 1]
        }
        p50 = rank(0.5)
        p90 = rank(0.9)
        p99 = rank(0.99)
    }
}

/// A proportion with its 95 % Wilson score interval.
public struct Proportion: Sendable, Hashable {
    /// Successes (here: runs that rolled back).
    public var count: Int
    /// Trials (runs).
    public var total: Int

    /// Creates a proportion.
    public init(count: Int, total: Int) {
        self.count = count
        self.total = total
    }

    /// `count / total` (0 when there are no trials).
    public var rate: Double { total == 0 ? 0 : Double(count) / Double(total) }

    /// The Wilson score interval at 95 % (z = 1.959964):
    ///
    ///     centre = (p + z²/2n) / (1 + z²/n)
    ///     half   = z / (1 + z²/n) · sqrt(p(1 − p)/n + z²/4n²)
    ///
    /// Unlike `p ± z·sqrt(p(1−p)/n)` it stays inside 0...1 and is not empty at 0 or n successes
    /// (0 rollbacks in 1000 runs gives 0 – 0.38 %).
    public var wilson95: ClosedRange<Double> {
        guard total > 0 else { return 0...1 }
        let z = 1.959964, n = Double(total), p = rate
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z / denominator * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        let lower = count == 0 ? 0 : max(centre - half, 0)
        let upper = count == total ? 1 : min(centre + half, 1)
        return lower...upper
    }
}

/// What the runs of a simulation add up to: the rollback rate, the delays, the final states.
public struct SimulationSummary: Sendable {
    /// Whether the candidate never differs from the baseline (every rollback is false).
    public var healthy: Bool
    /// Runs that rolled back, out of all runs.
    public var rollbacks: Proportion
    /// Rollbacks that happened before the candidate turned bad (`--bad-from` > 0): false rollbacks of a
    /// candidate that was still healthy. Always 0 for a healthy candidate (they are all false).
    public var rollbacksBeforeBad: Int
    /// Healthy candidate: seconds from the start to each rollback. Bad candidate: detection delay, seconds
    /// from the moment it turned bad to each rollback after that. `nil` without rollbacks.
    public var delays: SecondsPercentiles?
    /// Runs that reached `promoted`.
    public var promotions: Int
    /// Seconds from the start of the rollout to the promotion, over the runs promoted.
    public var promotionTimes: SecondsPercentiles?
    /// Final state of every run, counted, in ``RouteState`` order, states never reached left out.
    public var finalStates: [(state: RouteState, runs: Int)]
    /// The reason given by the first run that rolled back.
    public var exampleReason: String?
    /// Requests simulated, all runs together.
    public var requests: Int
    /// Wall-clock seconds of the simulation.
    public var wallSeconds: Double

    /// Adds up `result`.
    public init(_ result: SimulationResult) {
        let traffic = result.plan.traffic
        let outcomes = result.outcomes
        healthy = traffic.isCandidateHealthy
        var rolledBack = 0, before = 0
        var delays: [Int] = []
        var promotionTimes: [Int] = []
        var requests = 0
        exampleReason = nil
        for o in outcomes {
            requests += o.requests
            if let p = o.promotedSecond { promotionTimes.append(p) }
            guard let r = o.rollbackSecond else { continue }
            rolledBack += 1
            if exampleReason == nil { exampleReason = o.reason }
            if healthy {
                delays.append(r)
            } else if r <= traffic.badFromSecond {
                before += 1
            } else {
                delays.append(r - traffic.badFromSecond)
            }
        }
        rollbacks = Proportion(count: rolledBack, total: outcomes.count)
        rollbacksBeforeBad = before
        self.delays = SecondsPercentiles(delays)
        promotions = promotionTimes.count
        self.promotionTimes = SecondsPercentiles(promotionTimes)
        finalStates = RouteState.allCases.compactMap { state in
            let n = outcomes.count { $0.finalState == state }
            return n > 0 ? (state, n) : nil
        }
        self.requests = requests
        wallSeconds = result.wallSeconds
    }
}
