/// Progressive delivery: a target's weight climbs step by step while healthy.
public struct ProgressiveSpec: Sendable, Hashable {
    /// Index into the route's ``Route/targets``; never the baseline.
    public var target: Int
    /// Weights to reach, in basis points, strictly increasing, the last at most 10000.
    public var steps: [Int]
    /// Healthy time spent at one step before the next, in nanoseconds.
    public var intervalNanos: UInt64

    /// Creates a progressive spec.
    public init(target: Int, steps: [Int], intervalNanos: UInt64) {
        self.target = target
        self.steps = steps
        self.intervalNanos = intervalNanos
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

/// Thresholds judged against the baseline's figures over the same window.
public struct RelativeThresholds: Sendable, Hashable {
    /// Breach when candidate p99 > baseline p99 × this ratio.
    public var p99Ratio: Double?
    /// Breach when candidate error rate > baseline error rate + this delta.
    public var errorRateDelta: Double?

    /// Creates relative thresholds; at least one should be set.
    public init(p99Ratio: Double? = nil, errorRateDelta: Double? = nil) {
        self.p99Ratio = p99Ratio
        self.errorRateDelta = errorRateDelta
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

    /// Creates a rollback spec.
    public init(
        windowSeconds: Int = 60, evaluateEveryNanos: UInt64 = 5_000_000_000,
        minRequests: Int = 100, maxP99Micros: UInt64? = nil, maxErrorRate: Double? = nil,
        breachesToTrip: Int = 3, relativeToBaseline: RelativeThresholds? = nil
    ) {
        self.windowSeconds = windowSeconds
        self.evaluateEveryNanos = evaluateEveryNanos
        self.minRequests = minRequests
        self.maxP99Micros = maxP99Micros
        self.maxErrorRate = maxErrorRate
        self.breachesToTrip = breachesToTrip
        self.relativeToBaseline = relativeToBaseline
    }
}
