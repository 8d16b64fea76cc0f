/// The simulator's pseudo-random generator: xoshiro256** (Blackman and Vigna, 2018), seeded through
/// splitmix64.
///
/// - Period 2^256 − 1, 256 bits of state, one 64-bit output per call with a rotate, two multiplies and
///   a few shifts and xors; passes BigCrush. It is not cryptographic, and does not need to be.
/// - Seeding: the four state words are four consecutive outputs of splitmix64 started at the seed,
///   so that any 64-bit seed (0 included) gives a well-mixed, non-zero state.
/// - Streams: ``init(seed:stream:)`` mixes a stream number (the run index) into the seed, so that every
///   run of a simulation has its own generator, whatever thread runs it and in whatever order:
///   a simulation is a pure function of its seed.
///
/// Also conforms to the standard library's `RandomNumberGenerator`, for convenience outside hot loops.
public struct SimulationRandom: RandomNumberGenerator, Sendable {
    /// The four state words.
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose state is four successive splitmix64 outputs from `seed`.
    public init(seed: UInt64) {
        var x = seed
        s0 = Self.splitMix64(&x)
        s1 = Self.splitMix64(&x)
        s2 = Self.splitMix64(&x)
        s3 = Self.splitMix64(&x)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }   // the all-zero state is a fixed point (never reached in practice)
    }

    /// The generator of stream `stream` (e.g. a run index) of a simulation seeded with `seed`:
    /// the pair is hashed through two splitmix64 steps first, so that neighbouring seeds and streams
    /// give unrelated generators.
    public init(seed: UInt64, stream: UInt64) {
        var x = seed
        let a = Self.splitMix64(&x)
        var y = a ^ (stream &* 0xD1B5_4A32_D192_ED03)
        self.init(seed: Self.splitMix64(&y))
    }

    /// One step of splitmix64 (Steele, Lea and Flood, 2014): advances `x` by the golden-ratio increment
    /// and returns a mixed copy of it.
    @inline(__always)
    public static func splitMix64(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// A uniform double in `[0, 1)`, from the top 53 bits.
    @inline(__always)
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform double in the open interval `(0, 1)`: the midpoints of the 2^53 cells of `[0, 1)`,
    /// safe to pass to `log`.
    @inline(__always)
    public mutating func nextOpenUnit() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1.0p-53
    }

    /// A uniform integer in `0 ..< bound` (`bound` > 0) by the multiply-high method; the bias is at most
    /// `bound / 2^64`, far below anything a simulation can see.
    @inline(__always)
    public mutating func nextIndex(below bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// `x` rotated left by `k` bits (0 < k < 64).
    @inline(__always)
    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}
