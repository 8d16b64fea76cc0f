/// How one simulated backend answers: the share of its requests that are errors and how long they take.
public struct BackendBehaviour: Sendable, Hashable, CustomStringConvertible {
    /// Probability that a request is an error (5xx, timeout, …), 0...1, independently per request.
    public var errorRate: Double
    /// Latency of every request, errors included, independent of whether it is an error.
    public var latency: LatencyDistribution

    /// Creates a behaviour.
    public init(errorRate: Double, latency: LatencyDistribution) {
        self.errorRate = errorRate
        self.latency = latency
    }

    /// `errors 0.01, latency lognormal:20ms,0.5`.
    public var description: String {
        "errors \(LatencyText.number(errorRate)), latency \(latency)"
    }
}

/// The simulated traffic of one rollout.
///
/// - Arrivals are a Poisson process of `requestsPerSecond` on the whole route; each request picks a
///   target independently with the route's current weights, so target `t` receives Poisson(`rps · w_t`)
///   requests per second, independently of the other targets.
/// - The baseline, and every other target that is not the candidate, behaves as ``baseline``. The
///   candidate behaves as ``baseline`` before ``badFromSecond`` and as ``candidate`` from then on.
/// - Each request is an error with its target's error rate (so a second's errors are binomial), and has a
///   latency drawn from its target's distribution, independently.
public struct TrafficModel: Sendable, Hashable {
    /// Mean requests per second on the route, all targets together.
    public var requestsPerSecond: Double
    /// Length of one simulated rollout, in whole seconds.
    public var durationSeconds: Int
    /// How the baseline (and any target other than the candidate) behaves.
    public var baseline: BackendBehaviour
    /// How the candidate behaves from ``badFromSecond`` on.
    public var candidate: BackendBehaviour
    /// Seconds after the start of the rollout at which the candidate starts behaving as ``candidate``.
    public var badFromSecond: Int

    /// Creates a traffic model.
    public init(
        requestsPerSecond: Double, durationSeconds: Int, baseline: BackendBehaviour,
        candidate: BackendBehaviour, badFromSecond: Int = 0
    ) {
        self.requestsPerSecond = requestsPerSecond
        self.durationSeconds = durationSeconds
        self.baseline = baseline
        self.candidate = candidate
        self.badFromSecond = badFromSecond
    }

    /// Whether the candidate never differs from the baseline during a run: then every rollback is a
    /// false rollback.
    public var isCandidateHealthy: Bool {
        candidate == baseline || badFromSecond >= durationSeconds
    }

    /// Checks the values a command line can get wrong.
    public func validate() throws(SimulationSetupError) {
        guard requestsPerSecond.isFinite, requestsPerSecond > 0, requestsPerSecond <= 1_000_000 else {
            throw .init("--rps must be above 0 and at most 1000000 (got \(requestsPerSecond))")
        }
        guard durationSeconds >= 1 else { throw .init("--duration must be at least 1s") }
        guard badFromSecond >= 0 else { throw .init("--bad-from must not be negative") }
        for (flag, rate) in [("--baseline-errors", baseline.errorRate), ("--candidate-errors", candidate.errorRate)] {
            guard rate.isFinite, rate >= 0, rate <= 1 else {
                throw .init("\(flag) must be a probability between 0 and 1 (got \(rate))")
            }
        }
    }
}

/// A ``BackendBehaviour`` ready for the per-second loop: its latency as an alias table over the
/// ``SluiceStats/LatencyBuckets`` buckets and its errors as a binomial sampler.
struct BehaviourSampler: Sendable {
    /// Draws a latency bucket per request.
    let latency: AliasTable
    /// Draws a second's errors given its requests.
    let errors: BinomialSampler

    /// Precomputes `behaviour`'s tables.
    init(_ behaviour: BackendBehaviour) {
        latency = AliasTable(weights: behaviour.latency.bucketProbabilities())
        errors = BinomialSampler(probability: behaviour.errorRate)
    }
}
