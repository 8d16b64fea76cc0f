/// Maps a draw in `0..<10000` to the target whose bucket range contains it.
///
/// Target `i` owns `[w0 + … + w(i-1), w0 + … + wi)`. The same mapping serves
/// random draws and sticky buckets, so raising one arm's weight moves only the
/// users of the buckets it gains.
public enum WeightedSplit {
    /// Number of buckets: weights are basis points and sum to this.
    public static let total = 10_000

    /// Index of the target whose cumulative range contains `draw` (0..<10000).
    /// Weight-0 targets own an empty range and are never chosen. If the weights
    /// sum to less than `draw + 1` (never so in a validated table) the last
    /// target with a weight wins, or 0 if none has one.
    @inlinable
    public static func pick(_ targets: [Target], draw: Int) -> Int {
        var upper = 0
        var lastWeighted = 0
        for i in targets.indices {
            let w = targets[i].weight
            if w > 0 {
                upper += w
                lastWeighted = i
                if draw < upper { return i }
            }
        }
        return lastWeighted
    }

    /// A draw in `0..<10000` from `rng`.
    @inlinable
    public static func draw<G: RandomNumberGenerator>(_ rng: inout G) -> Int {
        Int(rng.next() % UInt64(total))
    }
}
