/// Merged view of the sliding window of a `TargetStats` (or of a shadow's results): the last `seconds`
/// seconds ending at the reader's `nowSecond`, over all workers.
///
/// Only finished exchanges are windowed: `requests` counts responses recorded in the window (assignments are
/// not time-stamped), so `errorRate` is errors per finished exchange.
public struct WindowSnapshot: Sendable, Equatable {
    /// Window length in seconds (after clamping to the owner's capacity).
    public var seconds: Int
    /// Finished exchanges recorded in the window.
    public var requests: UInt64
    /// Of those, exchanges flagged as errors.
    public var errors: UInt64
    /// `errors / requests`, or 0 when the window is empty.
    public var errorRate: Double
    /// Median latency in the window, milliseconds (0 when empty).
    public var p50Ms: Double
    /// 90th percentile latency in the window, milliseconds (0 when empty).
    public var p90Ms: Double
    /// 99th percentile latency in the window, milliseconds (0 when empty).
    public var p99Ms: Double
    /// Per-bucket counts (`LatencyBuckets` layout) merged over the window.
    public var latencyHistogram: [UInt64]

    /// Creates a window view and derives rate and percentiles from the merged counts.
    public init(seconds: Int, requests: UInt64, errors: UInt64, latencyHistogram: [UInt64]) {
        self.seconds = seconds
        self.requests = requests
        self.errors = errors
        self.errorRate = requests == 0 ? 0 : Double(errors) / Double(requests)
        self.latencyHistogram = latencyHistogram
        let p = LatencyBuckets.percentilesMicros(latencyHistogram, ascending: [0.5, 0.9, 0.99])
        self.p50Ms = p[0] / 1000
        self.p90Ms = p[1] / 1000
        self.p99Ms = p[2] / 1000
    }

    /// An empty window of `seconds` seconds.
    public static func empty(seconds: Int) -> WindowSnapshot {
        WindowSnapshot(seconds: seconds, requests: 0, errors: 0,
                       latencyHistogram: [UInt64](repeating: 0, count: LatencyBuckets.count))
    }

    /// Number of latencies in the window (the histogram total).
    public var latencyCount: UInt64 {
        var total: UInt64 = 0
        for c in latencyHistogram { total &+= c }
        return total
    }

    /// Latency percentile `q` (0 ... 1) in milliseconds: the midpoint of the bucket holding the sample of
    /// rank `ceil(q * n)`; within ~1% of the exact sample value. 0 when the window is empty.
    public func percentileMs(_ q: Double) -> Double {
        LatencyBuckets.percentileMicros(latencyHistogram, quantile: q) / 1000
    }
}
