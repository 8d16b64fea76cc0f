/// Comparison figures of one `shadow.compare` field of one route, written lock-free by the workers.
///
/// Per worker: a block of counters and, for `label` fields, a table of at most ``pairSlots`` distinct
/// disagreeing (primary → shadow) label pairs; pairs past it are counted in `otherPairs`. Labels are
/// kept up to ``labelBytes`` bytes.
///
/// `@unchecked Sendable` is sound: every shared word is an `Atomic` (see `AtomicU64Buffer`), each worker
/// block has exactly one writer (the worker whose index is passed), the arrays of blocks are immutable
/// after `init`, and a pair slot is published by a releasing store of its key after its labels are
/// written, which readers load acquiring before they read the labels (a slot's labels never change
/// once published).
public final class FieldStats: @unchecked Sendable {
    /// How the field is compared (mirrors `CompareField.Kind` in SluiceRouting).
    public enum Kind: String, Sendable { case label, number, array }

    /// Distinct disagreeing label pairs tallied per worker.
    public static let pairSlots = 64
    /// Bytes of a label kept in a pair.
    public static let labelBytes = 32
    /// Pairs shown by a snapshot.
    public static let topPairs = 20

    enum Words {
        static let compared = 0, agreed = 1, missing = 2, higher = 3, lower = 4
        static let sumAbsDiff = 5, maxDiff = 6            // Double bit patterns
        static let positions = 7, positionsAgreed = 8
        static let overlapSum = 9                         // Double bit pattern
        static let otherPairs = 10
        static let count = 11
    }

    /// Slot layout: key (0 = free), count, primary length, 4 words of primary bytes, shadow length, 4 words.
    enum Slot {
        static let key = 0, count = 1, primaryLength = 2, primary = 3, shadowLength = 7, shadow = 8
        static let words = 12
    }

    /// The pointer as configured.
    public let pointer: String
    /// The comparison kind.
    public let kind: Kind
    private let counters: [AtomicU64Buffer]
    private let pairs: [AtomicU64Buffer]

    /// Creates storage for `workers` workers.
    public init(pointer: String, kind: Kind, workers: Int) {
        self.pointer = pointer
        self.kind = kind
        counters = (0..<workers).map { _ in AtomicU64Buffer(count: Words.count) }
        pairs = kind == .label ? (0..<workers).map { _ in AtomicU64Buffer(count: Self.pairSlots * Slot.words) } : []
    }

    deinit {
        for c in counters { c.deallocate() }
        for p in pairs { p.deallocate() }
    }

    /// The field was absent (or not of its kind) in either answer.
    public func recordMissing(worker: Int) {
        counters[worker].add(Words.missing, 1)
    }

    /// A `label` comparison.
    public func recordLabel(worker: Int, primary: UnsafeRawBufferPointer, shadow: UnsafeRawBufferPointer, agreed: Bool) {
        let c = counters[worker]
        c.add(Words.compared, 1)
        if agreed {
            c.add(Words.agreed, 1)
            return
        }
        let p = pairs[worker]
        let pa = UnsafeRawBufferPointer(rebasing: primary[0..<min(primary.count, Self.labelBytes)])
        let sa = UnsafeRawBufferPointer(rebasing: shadow[0..<min(shadow.count, Self.labelBytes)])
        let key = Self.key(pa, sa)
        for slot in 0..<Self.pairSlots {
            let base = slot * Slot.words
            let k = p.load(base + Slot.key)
            if k == 0 {
                p.store(base + Slot.count, 1)
                Self.storeLabel(pa, p, base + Slot.primaryLength)
                Self.storeLabel(sa, p, base + Slot.shadowLength)
                p.storeReleasing(base + Slot.key, key)
                return
            }
            if k == key && Self.labelEquals(pa, p, base + Slot.primaryLength) && Self.labelEquals(sa, p, base + Slot.shadowLength) {
                p.add(base + Slot.count, 1)
                return
            }
        }
        c.add(Words.otherPairs, 1)
    }

    /// A `number` comparison: `difference` is shadow minus primary.
    public func recordNumber(worker: Int, difference: Double, agreed: Bool) {
        let c = counters[worker]
        c.add(Words.compared, 1)
        if agreed { c.add(Words.agreed, 1) }
        if difference > 0 { c.add(Words.higher, 1) } else if difference < 0 { c.add(Words.lower, 1) }
        let a = abs(difference)
        guard a.isFinite else { return }
        c.store(Words.sumAbsDiff, (Double(bitPattern: c.load(Words.sumAbsDiff)) + a).bitPattern)
        if a > Double(bitPattern: c.load(Words.maxDiff)) { c.store(Words.maxDiff, a.bitPattern) }
    }

    /// An `array` comparison.
    public func recordArray(worker: Int, positions: Int, agreeing: Int, overlap: Double, agreed: Bool) {
        let c = counters[worker]
        c.add(Words.compared, 1)
        if agreed { c.add(Words.agreed, 1) }
        c.add(Words.positions, UInt64(positions))
        c.add(Words.positionsAgreed, UInt64(agreeing))
        c.store(Words.overlapSum, (Double(bitPattern: c.load(Words.overlapSum)) + overlap).bitPattern)
    }

    /// Merged view of all workers.
    public func snapshot() -> FieldSnapshot {
        var w = [UInt64](repeating: 0, count: Words.count)
        var sumAbs = 0.0, maxDiff = 0.0, overlap = 0.0
        for c in counters {
            for i in 0..<Words.count { w[i] &+= c.load(i) }
            sumAbs += Double(bitPattern: c.load(Words.sumAbsDiff))
            maxDiff = max(maxDiff, Double(bitPattern: c.load(Words.maxDiff)))
            overlap += Double(bitPattern: c.load(Words.overlapSum))
        }
        var merged: [String: (primary: String, shadow: String, count: UInt64)] = [:]
        for p in pairs {
            for slot in 0..<Self.pairSlots {
                let base = slot * Slot.words
                guard p.loadAcquiring(base + Slot.key) != 0 else { break }
                let primary = Self.loadLabel(p, base + Slot.primaryLength)
                let shadow = Self.loadLabel(p, base + Slot.shadowLength)
                let id = primary + "\u{0}" + shadow
                merged[id, default: (primary, shadow, 0)].count += p.load(base + Slot.count)
            }
        }
        let sorted = merged.values.sorted { $0.count != $1.count ? $0.count > $1.count : ($0.primary, $0.shadow) < ($1.primary, $1.shadow) }
        let top = sorted.prefix(Self.topPairs).map { LabelPair(primary: $0.primary, shadow: $0.shadow, count: $0.count) }
        let rest = sorted.dropFirst(Self.topPairs).reduce(w[Words.otherPairs]) { $0 + $1.count }
        let compared = w[Words.compared]
        let n = Double(compared)
        return FieldSnapshot(
            pointer: pointer, kind: kind.rawValue, compared: compared, agreed: w[Words.agreed], missing: w[Words.missing],
            agreementRate: compared == 0 ? 0 : Double(w[Words.agreed]) / n,
            meanAbsDifference: compared == 0 ? 0 : sumAbs / n, maxDifference: maxDiff,
            shadowHigherShare: compared == 0 ? 0 : Double(w[Words.higher]) / n,
            shadowLowerShare: compared == 0 ? 0 : Double(w[Words.lower]) / n,
            positionAgreement: w[Words.positions] == 0 ? 0 : Double(w[Words.positionsAgreed]) / Double(w[Words.positions]),
            meanOverlap: compared == 0 ? 0 : overlap / n,
            topPairs: top, otherPairs: rest)
    }

    // MARK: labels in atomic words

    static func key(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in a { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        h = (h ^ 0xFF) &* 0x100_0000_01b3
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01b3 }
        return h | 1
    }

    static func storeLabel(_ label: UnsafeRawBufferPointer, _ p: AtomicU64Buffer, _ at: Int) {
        p.store(at, UInt64(label.count))
        for word in 0..<4 {
            var v: UInt64 = 0
            for i in 0..<8 where word * 8 + i < label.count { v |= UInt64(label[word * 8 + i]) << (8 * UInt64(i)) }
            p.store(at + 1 + word, v)
        }
    }

    static func labelEquals(_ label: UnsafeRawBufferPointer, _ p: AtomicU64Buffer, _ at: Int) -> Bool {
        guard p.load(at) == UInt64(label.count) else { return false }
        for i in 0..<label.count where UInt8(truncatingIfNeeded: p.load(at + 1 + i / 8) >> (8 * UInt64(i % 8))) != label[i] {
            return false
        }
        return true
    }

    static func loadLabel(_ p: AtomicU64Buffer, _ at: Int) -> String {
        let n = Int(min(p.load(at), UInt64(labelBytes)))
        var bytes: [UInt8] = []
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: p.load(at + 1 + i / 8) >> (8 * UInt64(i % 8)))) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One disagreeing (primary → shadow) label pair and how often it happened.
public struct LabelPair: Sendable, Equatable {
    public var primary: String
    public var shadow: String
    public var count: UInt64

    /// Creates a pair.
    public init(primary: String, shadow: String, count: UInt64) {
        self.primary = primary
        self.shadow = shadow
        self.count = count
    }
}

/// Merged view of one compare field (reader side).
public struct FieldSnapshot: Sendable, Equatable {
    public var pointer: String
    public var kind: String
    /// Comparisons made (both answers had the field).
    public var compared: UInt64
    /// Label: equal; number: within tolerance; array: equal at every position.
    public var agreed: UInt64
    /// Answers where either side lacked the field (not compared).
    public var missing: UInt64
    public var agreementRate: Double
    /// Number: mean and largest absolute difference, shares of comparisons where the shadow was higher / lower.
    public var meanAbsDifference: Double
    public var maxDifference: Double
    public var shadowHigherShare: Double
    public var shadowLowerShare: Double
    /// Array: share of positions equal, mean overlap (shared distinct elements over all distinct elements).
    public var positionAgreement: Double
    public var meanOverlap: Double
    /// Label: the most frequent disagreeing pairs (at most `FieldStats.topPairs`), most frequent first.
    public var topPairs: [LabelPair]
    /// Label: disagreements not in `topPairs`.
    public var otherPairs: UInt64
}
