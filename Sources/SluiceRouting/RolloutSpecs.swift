/// Progressive delivery: a target's weight climbs step by step while healthy.
public struct ProgressiveSpec: Sendable, Hashable {
    /// Index into the route's ``Route/targets``; never the baseline.
    public var target: Int
    /// Weights to reach, in basis points, strictly increasing, the last at most 10000.
    public var steps: [Int]
    /// Healthy time spent at one step before the next, in nanoseconds.
    public var intervalNanos: UInt64
    /// Steps (basis points, each one of ``steps``) that wait for an operator's approval before they apply.
    public var gates: [Int]
    /// Whether a step advances only after a passing evaluation with at least `min_requests` requests
    /// (`true`, the default); `false` lets time alone advance it when evaluations are inconclusive.
    /// Without rollback rules there are no evaluations and time alone advances the steps.
    public var requireEvidence: Bool

    /// Creates a progressive spec.
    public init(target: Int, steps: [Int], intervalNanos: UInt64, gates: [Int] = [], requireEvidence: Bool = true) {
        self.target = target
        self.steps = steps
        self.intervalNanos = intervalNanos
        self.gates = gates
        self.requireEvidence = requireEvidence
    }
}

/// Agreement check between a primary response and its shadow's.
public struct ShadowCompare: Sendable, Hashable {
    /// RFC 6901 pointer into both JSON bodies, e.g. `/predictions/fraud_probability`.
    public var jsonPointer: String
    /// Largest absolute difference of two numbers that still counts as agreement.
    public var tolerance: Double

    /// Creates a compare spec.
    public init(jsonPointer: String, tolerance: Double) {
        self.jsonPointer = jsonPointer
        self.tolerance = tolerance
    }
}

/// Shadow mirroring: copies of live requests go to a candidate, answers dropped.
public struct ShadowSpec: Sendable, Hashable {
    /// Index into ``RouteTable/backends``; never one of the route's targets.
    public var backend: Int
    /// Share of requests copied, in basis points (percent × 100).
    public var percentBasisPoints: Int
    /// Copies in flight per worker above which new copies are dropped and counted.
    public var maxInFlight: Int
    /// Bodies larger than this are not copied (the copy is skipped and counted).
    public var maxBodyBytes: Int
    /// Optional response comparison.
    public var compare: ShadowCompare?
    /// `shadow.match.methods`: only requests with one of these methods are mirrored (empty: any).
    public var matchMethods: [[UInt8]] = []
    /// `shadow.match.path_prefixes`: only requests whose path starts with one of these are mirrored.
    public var matchPathPrefixes: [[UInt8]] = []
    /// `shadow.match.path_suffixes`: only requests whose path ends with one of these are mirrored.
    public var matchPathSuffixes: [[UInt8]] = []
    /// `sample_by: sticky`: the salt of the shadow's own bucket, `route salt + "/shadow"`; a request is
    /// mirrored when `H(salt + ":" + key) mod 10000 < percent × 100` for its sticky key, so the same
    /// users are mirrored every time. `nil`: a random draw per request (`sample_by: random`).
    public var stickySalt: [UInt8]?
    /// `shadow.compare` as a list: each field compared on its own (see ``CompareField``).
    public var fields: [CompareField] = []

    /// Creates a shadow spec.
    public init(
        backend: Int, percentBasisPoints: Int, maxInFlight: Int = 64,
        maxBodyBytes: Int = 1 << 20, compare: ShadowCompare? = nil
    ) {
        self.backend = backend
        self.percentBasisPoints = percentBasisPoints
        self.maxInFlight = maxInFlight
        self.maxBodyBytes = maxBodyBytes
        self.compare = compare
    }
}

/// How a candidate is judged against its baseline.
public enum RelativeMethod: String, Sendable, Hashable {
    /// A fixed-window check at every evaluation: p99 ratio and a two-proportion z-test on errors.
    case zTest = "z_test"
    /// Always-valid sequential tests (``SequentialRatioTest``) over everything since the rollout started.
    case sequential
}

/// Which latency counts as slow for the sequential latency test.
public enum LatencyThreshold: Sendable, Hashable {
    /// A fixed latency, in microseconds.
    case micros(UInt64)
    /// The baseline's quantile (0 < q < 1), read once the baseline has `min_requests` in its window, then
    /// frozen for the rest of the rollout.
    case baselineQuantile(Double)
}

/// Thresholds judged against the baseline's figures.
public struct RelativeThresholds: Sendable, Hashable {
    /// The method; today's fixed-window rule unless `sequential` is configured.
    public var method: RelativeMethod
    /// `z_test`: breach when candidate p99 > baseline p99 × this ratio.
    public var p99Ratio: Double?
    /// `z_test`: breach when candidate error rate > baseline error rate + this delta (and z > 1.645).
    public var errorRateDelta: Double?
    /// `sequential`: the probability of rolling back a candidate that is not worse, over the whole
    /// rollout, per candidate; split evenly between the error and the latency test.
    public var alpha: Double
    /// `sequential`: the candidate's error rate may be up to this multiple of the baseline's.
    public var maxErrorRatio: Double
    /// `sequential`: the latency above which a request counts as slow.
    public var latencyThreshold: LatencyThreshold
    /// `sequential`: the candidate's share of slow requests may be up to this multiple of the baseline's.
    public var maxSlowRatio: Double

    /// Creates relative thresholds.
    public init(
        method: RelativeMethod = .zTest, p99Ratio: Double? = nil, errorRateDelta: Double? = nil,
        alpha: Double = 0.05, maxErrorRatio: Double = 1, latencyThreshold: LatencyThreshold = .baselineQuantile(0.9),
        maxSlowRatio: Double = 1
    ) {
        self.method = method
        self.p99Ratio = p99Ratio
        self.errorRateDelta = errorRateDelta
        self.alpha = alpha
        self.maxErrorRatio = maxErrorRatio
        self.latencyThreshold = latencyThreshold
        self.maxSlowRatio = maxSlowRatio
    }
}

/// Automatic rollback: when to send a candidate's traffic back to the baseline.
public struct RollbackSpec: Sendable, Hashable {
    /// Length of the sliding window evaluated, in seconds.
    public var windowSeconds: Int
    /// Time between two evaluations, in nanoseconds.
    public var evaluateEveryNanos: UInt64
    /// Fewer requests than this in the window: no verdict.
    public var minRequests: Int
    /// Absolute p99 latency limit, in microseconds.
    public var maxP99Micros: UInt64?
    /// Absolute error-rate limit, 0...1.
    public var maxErrorRate: Double?
    /// Consecutive breaching evaluations that trip the rollback.
    public var breachesToTrip: Int
    /// Limits relative to the baseline.
    public var relativeToBaseline: RelativeThresholds?
    /// Evaluate and report verdicts without ever moving traffic.
    public var dryRun: Bool

    /// Creates a rollback spec.
    public init(
        windowSeconds: Int = 60, evaluateEveryNanos: UInt64 = 5_000_000_000,
        minRequests: Int = 100, maxP99Micros: UInt64? = nil, maxErrorRate: Double? = nil,
        breachesToTrip: Int = 3, relativeToBaseline: RelativeThresholds? = nil, dryRun: Bool = false
    ) {
        self.dryRun = dryRun
        self.windowSeconds = windowSeconds
        self.evaluateEveryNanos = evaluateEveryNanos
        self.minRequests = minRequests
        self.maxP99Micros = maxP99Micros
        self.maxErrorRate = maxErrorRate
        self.breachesToTrip = breachesToTrip
        self.relativeToBaseline = relativeToBaseline
    }
}
