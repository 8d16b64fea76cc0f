/// Merged, point-in-time view of one `TargetStats` over all workers (reader side).
///
/// Counters are all-time and monotonic; `window` covers only the recent sliding window. Different counters are
/// read at slightly different instants, so they may be momentarily inconsistent with each other by a few
/// in-flight records (e.g. `responses` may briefly exceed `requests`); each counter on its own is exact.
public struct TargetSnapshot: Sendable, Equatable {
    /// Requests assigned to this target by the routing decision.
    public var requests: UInt64
    /// Responses with a 2xx status.
    public var responses2xx: UInt64
    /// Responses with a 3xx status.
    public var responses3xx: UInt64
    /// Responses with a 4xx status.
    public var responses4xx: UInt64
    /// Responses with a 5xx status.
    public var responses5xx: UInt64
    /// Finished exchanges with no or an unusual status (0 for reset/timeout before a response, 1xx, >= 600).
    public var responsesOther: UInt64
    /// Exchanges flagged as errors (5xx, gRPC status != 0, timeout, connect failure, upstream reset).
    public var errors: UInt64
    /// Sum of all recorded latencies, in microseconds (Prometheus `_sum` after conversion to seconds).
    public var latencySumMicros: UInt64
    /// All-time count per `LatencyBuckets` bucket (not cumulative); its total is `latencyCount`.
    public var latencyHistogram: [UInt64]
    /// The sliding window part.
    public var window: WindowSnapshot

    /// Creates a snapshot from merged values (used by `TargetStats`; public for tests and fakes).
    public init(
        requests: UInt64, responses2xx: UInt64, responses3xx: UInt64, responses4xx: UInt64,
        responses5xx: UInt64, responsesOther: UInt64, errors: UInt64, latencySumMicros: UInt64,
        latencyHistogram: [UInt64], window: WindowSnapshot
    ) {
        self.requests = requests
        self.responses2xx = responses2xx
        self.responses3xx = responses3xx
        self.responses4xx = responses4xx
        self.responses5xx = responses5xx
        self.responsesOther = responsesOther
        self.errors = errors
        self.latencySumMicros = latencySumMicros
        self.latencyHistogram = latencyHistogram
        self.window = window
    }

    /// Total finished exchanges (all status classes including `responsesOther`).
    public var responses: UInt64 {
        responses2xx &+ responses3xx &+ responses4xx &+ responses5xx &+ responsesOther
    }

    /// Number of recorded latencies: the histogram total (Prometheus `_count` and the `+Inf` bucket).
    public var latencyCount: UInt64 {
        var total: UInt64 = 0
        for c in latencyHistogram { total &+= c }
        return total
    }

    /// Sum of recorded latencies in seconds (Prometheus `_sum`).
    public var latencySumSeconds: Double { Double(latencySumMicros) / 1_000_000 }

    /// Mean latency in milliseconds over all time; 0 when nothing was recorded.
    public var meanLatencyMs: Double {
        let n = latencyCount
        return n == 0 ? 0 : Double(latencySumMicros) / Double(n) / 1000
    }

    /// All-time latency percentile `q` (0 ... 1) in milliseconds; 0 when nothing was recorded.
    public func percentileMs(_ q: Double) -> Double {
        LatencyBuckets.percentileMicros(latencyHistogram, quantile: q) / 1000
    }

    /// Number of recorded latencies whose bucket lies entirely at or below `micros`.
    public func cumulativeCount(atMostMicros micros: UInt64) -> UInt64 {
        let end = Swift.min(LatencyBuckets.bucketsAtOrBelow(micros: micros), latencyHistogram.count)
        var total: UInt64 = 0
        for i in 0..<end { total &+= latencyHistogram[i] }
        return total
    }

    /// Cumulative counts for ascending Prometheus `le` bounds given in seconds (one pass over the histogram).
    ///
    /// Entry `k` counts values whose bucket's inclusive upper bound is `<= bounds[k]`; the result is therefore
    /// non-decreasing and never exceeds `latencyCount`. Non-finite bounds count everything.
    public func cumulativeCounts(atMostSeconds bounds: [Double]) -> [UInt64] {
        var result = [UInt64]()
        result.reserveCapacity(bounds.count)
        var running: UInt64 = 0
        var next = 0
        for bound in bounds {
            let end: Int
            if !bound.isFinite || bound * 1_000_000 >= Double(LatencyBuckets.clampMicros) {
                end = latencyHistogram.count
            } else if bound <= 0 {
                end = 0
            } else {
                let micros = UInt64((bound * 1_000_000).rounded())
                end = Swift.min(LatencyBuckets.bucketsAtOrBelow(micros: micros), latencyHistogram.count)
            }
            while next < end {
                running &+= latencyHistogram[next]
                next += 1
            }
            result.append(running)
        }
        return result
    }
}
