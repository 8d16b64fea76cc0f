import Testing
import SluiceRouting

/// Pinned vectors: H = fmix64(FNV-1a-64(salt + ":" + key)), bucket = H mod 10000.
/// They are published in docs/rollouts.md; changing any of them reassigns every user.
struct StickyHashTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let salt: String
        let key: String
        let hash: UInt64
        let bucket: Int
        var testDescription: String { "\(salt):\(key)" }
    }

    static let vectors: [Vector] = [
        Vector(salt: "fraud-ab-2026-11", key: "user-42", hash: 0x1ff4_205a_8a12_611a, bucket: 1866),
        Vector(salt: "fraud-ab-2026-11", key: "user-43", hash: 0xe52c_0666_8fab_23dd, bucket: 4781),
        Vector(salt: "exp-1", key: "alice", hash: 0x0280_ef9f_44ff_3b01, bucket: 5841),
        Vector(salt: "exp-1", key: "bob", hash: 0xcfcb_497b_011a_764f, bucket: 2415),
        Vector(salt: "", key: "", hash: 0x6fb5_654d_28b3_ff2d, bucket: 1709),
        Vector(salt: "salt", key: "é-ü", hash: 0x8b21_1910_7ffc_f029, bucket: 8873),
    ]

    @Test(arguments: vectors)
    func pinnedVector(_ v: Vector) {
        let joined = Array((v.salt + ":" + v.key).utf8)
        #expect(StickyHash.hash64(joined) == v.hash)
        #expect(StickyHash.hash64(salt: Array(v.salt.utf8), key: Array(v.key.utf8)) == v.hash)
        #expect(StickyHash.bucket(salt: v.salt, key: v.key) == v.bucket)
        let key = Array(v.key.utf8)
        key.withUnsafeBytes { raw in
            #expect(StickyHash.bucket(salt: Array(v.salt.utf8), key: raw) == v.bucket)
        }
    }

    @Test func fnvBasisAndFinalizer() {
        // FNV-1a of nothing is the offset basis; fmix64(0) is 0.
        #expect(StickyHash.fmix64(0) == 0)
        #expect(StickyHash.hash64([UInt8]()) == StickyHash.fmix64(0xcbf2_9ce4_8422_2325))
    }

    @Test func deterministicAndSaltSensitive() {
        let a = StickyHash.bucket(salt: "s1", key: "user-7")
        for _ in 0..<100 { #expect(StickyHash.bucket(salt: "s1", key: "user-7") == a) }
        // A new salt reshuffles: over 1000 keys most buckets change.
        var changed = 0
        for i in 0..<1000 where StickyHash.bucket(salt: "s1", key: "u\(i)") != StickyHash.bucket(salt: "s2", key: "u\(i)") {
            changed += 1
        }
        #expect(changed > 990)
    }

    @Test func bucketsAreUniform() {
        // 100,000 sequential keys into 10 deciles: each within 5% of 10,000.
        var deciles = [Int](repeating: 0, count: 10)
        for i in 0..<100_000 { deciles[StickyHash.bucket(salt: "exp", key: "user-\(i)") / 1000] += 1 }
        for d in deciles { #expect(abs(d - 10_000) < 500) }
    }

    @Test func splitMixIsSeededAndDeterministic() {
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        var c = SplitMix64(seed: 43)
        let sa = (0..<8).map { _ in a.next() }
        #expect(sa == (0..<8).map { _ in b.next() })
        #expect(sa != (0..<8).map { _ in c.next() })
        // Reference value of SplitMix64 seeded with 0.
        var z = SplitMix64(seed: 0)
        #expect(z.next() == 0xe220_a839_7b1d_cdaf)
    }
}
