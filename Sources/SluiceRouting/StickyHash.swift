/// The fixed, documented hash behind sticky assignment.
///
/// `H(bytes)` = FNV-1a 64-bit over `bytes` (offset basis `0xcbf29ce484222325`,
/// prime `0x100000001b3`), finalized with MurmurHash3's `fmix64`.
/// A user's bucket is `H(salt + ":" + key) mod 10000`, the same on every replica,
/// every restart and every platform, so an analytics job can recompute it.
/// Never Swift's `Hasher`, which is seeded per process.
public enum StickyHash {
    /// FNV-1a 64-bit offset basis.
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// FNV-1a 64-bit prime.
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// One FNV-1a step.
    @inlinable
    static func feed(_ state: UInt64, _ byte: UInt8) -> UInt64 {
        (state ^ UInt64(byte)) &* prime
    }

    /// MurmurHash3's 64-bit finalizer: spreads FNV's weak low bits.
    @inlinable
    public static func fmix64(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// `H(bytes)`: FNV-1a 64 then `fmix64`.
    @inlinable
    public static func hash64<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var state = offsetBasis
        for b in bytes { state = feed(state, b) }
        return fmix64(state)
    }

    /// `H(salt + ":" + key)`, computed without building the joined string.
    @inlinable
    public static func hash64<K: Sequence>(salt: [UInt8], key: K) -> UInt64 where K.Element == UInt8 {
        var state = offsetBasis
        for b in salt { state = feed(state, b) }
        state = feed(state, UInt8(ascii: ":"))
        for b in key { state = feed(state, b) }
        return fmix64(state)
    }

    /// The user's bucket, `H(salt + ":" + key) mod 10000`.
    @inlinable
    public static func bucket(salt: [UInt8], key: UnsafeRawBufferPointer) -> Int {
        Int(hash64(salt: salt, key: key) % UInt64(WeightedSplit.total))
    }

    /// The user's bucket for a key held in an array (admin `assign`, tests).
    @inlinable
    public static func bucket(salt: [UInt8], key: [UInt8]) -> Int {
        Int(hash64(salt: salt, key: key) % UInt64(WeightedSplit.total))
    }

    /// The user's bucket for string salt and key, taken as UTF-8.
    public static func bucket(salt: String, key: String) -> Int {
        Int(hash64(salt: Array(salt.utf8), key: key.utf8) % UInt64(WeightedSplit.total))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, seedable generator.
///
/// Deterministic for tests; one per worker thread in production (seeded from
/// the system generator), so drawing needs neither locks nor atomics.
/// Not cryptographic: routing draws need uniformity, not secrecy.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// Current state; advanced by the golden-ratio increment on each draw.
    public var state: UInt64

    /// Creates a generator from a seed; equal seeds give equal sequences.
    public init(seed: UInt64) {
        self.state = seed
    }

    /// Creates a generator seeded from the system's random source.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.state = system.next()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state = state &+ 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
