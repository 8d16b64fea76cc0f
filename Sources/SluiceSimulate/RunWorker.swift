import SluiceRouting

/// One thread's simulator: the per-target rings, the behaviour samplers and the arrival samplers,
/// allocated once and reused for every run the thread executes.
///
/// Per simulated second and target: one Poisson draw (requests), one binomial draw (errors) and one
/// alias-table draw per request (its latency bucket), written to the target's ``TargetSecondRing``.
/// Then one tick of the machine, whose window reads come from the rings.
struct RunWorker {
    /// The plan (route, traffic, seed).
    let plan: SimulationPlan
    /// The baseline's behaviour (and every target's but the candidate's), precomputed.
    private let baselineSampler: BehaviourSampler
    /// The candidate's behaviour once bad, precomputed.
    private let candidateSampler: BehaviourSampler
    /// Every target's recorded seconds.
    private var rings: [TargetSecondRing]
    /// Arrival sampler per target for ``samplerWeights``.
    private var arrivals: [PoissonSampler]
    /// The weights the arrival samplers were built for.
    private var samplerWeights: [Int]
    /// Whether the rule engine ever reads figures (the route has `rollback`): if not, nothing is recorded.
    private let recordsFigures: Bool

    /// A worker for `plan`.
    init(_ plan: SimulationPlan) {
        self.plan = plan
        baselineSampler = BehaviourSampler(plan.traffic.baseline)
        candidateSampler = plan.traffic.candidate == plan.traffic.baseline
            ? baselineSampler : BehaviourSampler(plan.traffic.candidate)
        let window = plan.route.windowSeconds
        // The rules read the window, and increments since the previous evaluation: keep twice the
        // longer of the two, and a margin.
        let capacity = 2 * max(window, plan.route.evaluateEverySeconds) + 64
        let count = plan.route.route.targets.count
        rings = (0..<count).map { _ in TargetSecondRing(windowSeconds: window, capacitySeconds: capacity) }
        arrivals = []
        samplerWeights = []
        recordsFigures = plan.route.route.rollback != nil
    }

    /// Monotonic nanoseconds of the last nanosecond of second `second`.
    @inline(__always)
    private static func endOf(second: Int) -> UInt64 {
        UInt64(second) * 1_000_000_000 + 999_999_999
    }

    /// Runs rollout number `index` (see ``SimulationRunner`` for the simulated clock).
    mutating func run(index: Int) -> RunOutcome {
        var rng = SimulationRandom(seed: plan.seed, stream: UInt64(index))
        let origin = SimulationRunner.originSecond
        for t in rings.indices { rings[t].reset(firstSecond: origin) }
        let traffic = plan.traffic
        let candidate = plan.route.candidate
        var machine = RolloutStateMachine(route: plan.route.route, targetNames: plan.route.targetNames)
        _ = machine.tick(now: Self.endOf(second: origin - 1)) { (range: RolloutWindowRange) -> [RolloutWindowFigures] in
            figures(range)
        }
        if machine.state == .awaitingApproval { _ = try? machine.approve(now: Self.endOf(second: origin - 1)) }
        var promoted: Int? = machine.state == .promoted ? 0 : nil
        var requests = 0
        for k in 0..<traffic.durationSeconds {
            let second = origin + k
            let weights = machine.weights
            if weights != samplerWeights { rebuildArrivals(weights) }
            let bad = k >= traffic.badFromSecond
            for t in rings.indices {
                let behaviour = t == candidate && bad ? candidateSampler : baselineSampler
                let n = arrivals[t].sample(&rng)
                requests += n
                let e = behaviour.errors.sample(trials: n, &rng)
                if recordsFigures {
                    rings[t].record(second: second, requests: n, errors: e, latency: behaviour.latency, rng: &rng)
                }
            }
            _ = machine.tick(now: Self.endOf(second: second)) { (range: RolloutWindowRange) -> [RolloutWindowFigures] in
                figures(range)
            }
            if machine.state == .awaitingApproval {
                // The simulated operator approves a manual gate at once.
                _ = try? machine.approve(now: Self.endOf(second: second))
            }
            if promoted == nil && machine.state == .promoted { promoted = k + 1 }
            if machine.state == .rolledBack {
                return RunOutcome(finalState: .rolledBack, rollbackSecond: k + 1, promotedSecond: promoted,
                                  reason: machine.reason, requests: requests)
            }
        }
        return RunOutcome(finalState: machine.state, promotedSecond: promoted, requests: requests)
    }

    /// Every target's figures over `range`, in target order.
    private func figures(_ range: RolloutWindowRange) -> [RolloutWindowFigures] {
        let end = Int(clamping: range.endSecond)
        return rings.map { ring in
            let f = ring.figures(endSecond: end, seconds: range.seconds)
            return RolloutWindowFigures(requests: UInt64(f.requests), errors: UInt64(f.errors), latencyHistogram: f.histogram)
        }
    }

    /// Arrival samplers for `weights` (basis points): target `t` gets Poisson(`rps · w_t / 10000`).
    private mutating func rebuildArrivals(_ weights: [Int]) {
        let rps = plan.traffic.requestsPerSecond
        arrivals = weights.map { PoissonSampler(mean: rps * Double(max($0, 0)) / 10_000) }
        samplerWeights = weights
    }
}
