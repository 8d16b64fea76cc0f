/// Walker's alias method (in Vose's numerically stable construction) for drawing an index from a fixed
/// discrete distribution in O(1): one 64-bit random number and one table load per draw.
///
/// The table has one entry per outcome `i`: a threshold `t_i` (the probability of keeping `i`, as a
/// 32-bit fixed-point fraction, 0 ... 2^32) and an alias `a_i`. A draw splits a random word into a
/// column (the top 32 bits, scaled to `0 ..< n` by multiply-high) and a coin (the low 32 bits), and
/// returns the column when `coin < t_i`, else its alias. Probabilities are therefore exact to about
/// 2^−32 per outcome.
///
/// Threshold and alias are packed into one word, `t_i << 16 | a_i`, so outcomes must number at most
/// 65536 (``LatencyBuckets`` has 1408).
public struct AliasTable: Sendable {
    /// `threshold << 16 | alias`, one per outcome.
    private let entries: [UInt64]
    /// Number of outcomes.
    public var count: Int { entries.count }

    /// A table drawing index `i` with probability `weights[i] / sum(weights)`. Negative and non-finite
    /// weights count as 0; if every weight is 0 the table always draws the last index.
    public init(weights: [Double]) {
        let n = weights.count
        precondition(n > 0 && n <= 65_536, "an alias table needs 1 ... 65536 outcomes")
        let clean = weights.map { $0.isFinite && $0 > 0 ? $0 : 0 }
        var total = 0.0
        for w in clean { total += w }
        var scaled = [Double](repeating: 0, count: n)
        if total > 0 {
            for i in 0..<n { scaled[i] = clean[i] / total * Double(n) }
        } else {
            scaled[n - 1] = Double(n)
        }
        var small: [Int] = []
        var large: [Int] = []
        small.reserveCapacity(n)
        large.reserveCapacity(n)
        for i in 0..<n {
            if scaled[i] < 1 { small.append(i) } else { large.append(i) }
        }
        var threshold = [Double](repeating: 1, count: n)
        var alias = Array(0..<n)
        while let s = small.last, let l = large.last {
            small.removeLast()
            threshold[s] = scaled[s]
            alias[s] = l
            scaled[l] = (scaled[l] + scaled[s]) - 1
            if scaled[l] < 1 {
                large.removeLast()
                small.append(l)
            }
        }
        // Whatever is left (only rounding keeps it from exactly 1) is kept with certainty.
        for i in large { threshold[i] = 1 }
        for i in small { threshold[i] = 1 }
        let one = Double(UInt64(1) << 32)
        entries = (0..<n).map { i in
            let t = UInt64(min(max(threshold[i], 0), 1) * one)
            return t << 16 | UInt64(alias[i])
        }
    }

    /// One draw.
    @inline(__always)
    public func sample(_ rng: inout SimulationRandom) -> Int {
        let r = rng.next()
        let column = Int(truncatingIfNeeded: ((r >> 32) &* UInt64(entries.count)) >> 32)
        let entry = entries.withUnsafeBufferPointer { $0[column] }
        return (r & 0xFFFF_FFFF) < entry >> 16 ? column : Int(truncatingIfNeeded: entry & 0xFFFF)
    }

    /// The probability with which the table draws each index (for tests): column mass plus alias mass.
    public func drawProbabilities() -> [Double] {
        let n = entries.count
        var p = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let t = Double(entries[i] >> 16) / Double(UInt64(1) << 32)
            p[i] += t / Double(n)
            p[Int(entries[i] & 0xFFFF)] += (1 - t) / Double(n)
        }
        return p
    }
}
