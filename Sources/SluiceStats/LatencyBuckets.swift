/// Log-linear latency histogram layout in microseconds.
///
/// Values `0 ..< 64` µs each get an exact bucket of width 1. Above that, every power of two `[2^e, 2^(e+1))`
/// for `e` in `6 ... 26` is split into 64 equal sub-buckets of width `2^(e-6)`, so a bucket's width is at most
/// 1/64 of its lower bound and reporting the bucket midpoint is off by at most ~0.8% of the true value.
/// The covered range is therefore 1 µs .. 2^27 − 1 µs (~134 s); larger values clamp into the last bucket.
///
/// The layout is a pure function of the value: `index(micros:)` is a handful of integer instructions and never
/// allocates, so it is safe on the proxy hot path.
public enum LatencyBuckets {
    /// Number of sub-buckets per power of two (and the number of exact buckets below 64 µs).
    public static let subBuckets: Int = 64

    /// log2 of `subBuckets`.
    static let subBucketBits: Int = 6

    /// Largest exponent `e` whose range `[2^e, 2^(e+1))` is covered by regular buckets.
    static let maxExponent: Int = 26

    /// First value (in µs) that no longer fits a regular bucket and is clamped into the last bucket.
    public static let clampMicros: UInt64 = 1 << 27

    /// Total number of buckets: 64 exact ones plus 64 for each exponent 6 ... 26.
    public static let count: Int = subBuckets + (maxExponent - subBucketBits + 1) * subBuckets

    /// Bucket index of a latency in microseconds; values `>= clampMicros` go into the last bucket.
    @inline(__always)
    public static func index(micros: UInt64) -> Int {
        if micros < UInt64(subBuckets) { return Int(micros) }
        if micros >= clampMicros { return count - 1 }
        let exponent = 63 - micros.leadingZeroBitCount          // 6 ... 26
        let shift = UInt64(exponent - subBucketBits)
        let sub = Int(truncatingIfNeeded: micros >> shift) & (subBuckets - 1)
        return (exponent - subBucketBits + 1) * subBuckets + sub
    }

    /// Width in µs of bucket `index` (number of integer microsecond values it holds).
    public static func widthMicros(_ index: Int) -> UInt64 {
        precondition(index >= 0 && index < count, "latency bucket index out of range")
        if index < subBuckets { return 1 }
        let exponent = index / subBuckets + subBucketBits - 1
        return 1 << UInt64(exponent - subBucketBits)
    }

    /// Smallest integer latency (µs) that maps to bucket `index`.
    public static func lowerBoundMicros(_ index: Int) -> UInt64 {
        precondition(index >= 0 && index < count, "latency bucket index out of range")
        if index < subBuckets { return UInt64(index) }
        let exponent = index / subBuckets + subBucketBits - 1
        let sub = UInt64(index % subBuckets)
        return (UInt64(subBuckets) + sub) << UInt64(exponent - subBucketBits)
    }

    /// Largest integer latency (µs) that maps to bucket `index` (inclusive upper bound).
    ///
    /// For the last bucket this is the nominal bound `clampMicros - 1`; clamped larger values also land there.
    /// A bucket counts towards a Prometheus `le` bound when this value is `<= le`.
    public static func upperBoundMicros(_ index: Int) -> Double {
        Double(lowerBoundMicros(index) + widthMicros(index) - 1)
    }

    /// Representative value (µs) reported for samples in bucket `index`: the midpoint of its integer range.
    /// Exact for the buckets below 64 µs.
    public static func representativeMicros(_ index: Int) -> Double {
        Double(lowerBoundMicros(index)) + Double(widthMicros(index) - 1) / 2
    }

    /// Number of leading buckets whose inclusive upper bound is `<= micros`
    /// (i.e. buckets `0 ..< result` lie entirely at or below `micros`).
    public static func bucketsAtOrBelow(micros: UInt64) -> Int {
        if micros >= clampMicros - 1 { return count }
        // Bucket index(micros) is fully included only if micros is its last value.
        let i = index(micros: micros)
        return UInt64(upperBoundMicros(i)) <= micros ? i + 1 : i
    }

    /// Percentiles `qs` (each 0 ... 1, ascending) in microseconds of `counts`, in one walk after the total:
    /// each is what ``percentileMicros(_:quantile:)`` gives. All 0 when the histogram is empty.
    public static func percentilesMicros(_ counts: [UInt64], ascending qs: [Double]) -> [Double] {
        var total: UInt64 = 0
        for c in counts { total &+= c }
        var out = [Double](repeating: 0, count: qs.count)
        if total == 0 || qs.isEmpty { return out }
        var ranks = qs.map { q -> UInt64 in
            let clampedQ = q.isNaN ? 0 : Swift.min(Swift.max(q, 0), 1)
            return Swift.min(Swift.max(UInt64((clampedQ * Double(total)).rounded(.up)), 1), total)
        }
        for k in 1..<max(ranks.count, 1) where ranks[k] < ranks[k - 1] { ranks[k] = ranks[k - 1] }
        var next = 0
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen &+= c
            while next < ranks.count && seen >= ranks[next] {
                out[next] = representativeMicros(i)
                next += 1
            }
            if next == ranks.count { break }
        }
        return out
    }

    /// Percentile `q` (0 ... 1) in microseconds of a per-bucket count array laid out like this enum.
    ///
    /// Walks to the sample of rank `ceil(q * n)` (at least 1) and returns its bucket's representative value;
    /// returns 0 when the histogram is empty.
    public static func percentileMicros(_ counts: [UInt64], quantile q: Double) -> Double {
        var total: UInt64 = 0
        for c in counts { total &+= c }
        if total == 0 { return 0 }
        let clampedQ = q.isNaN ? 0 : Swift.min(Swift.max(q, 0), 1)
        var rank = UInt64((clampedQ * Double(total)).rounded(.up))
        rank = Swift.min(Swift.max(rank, 1), total)
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen &+= c
            if seen >= rank { return representativeMicros(i) }
        }
        return representativeMicros(counts.count - 1)
    }
}
