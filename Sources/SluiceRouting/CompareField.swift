/// One field of `shadow.compare` (list form): where it is in both answers and how it is judged.
public struct CompareField: Sendable, Hashable {
    /// How the two values are compared.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Equal or not; disagreements are tallied as (primary → shadow) pairs.
        case label
        /// Within `tolerance`, plus the size and sign of the difference.
        case number
        /// Element by element, plus the overlap of the two sets of elements.
        case array
    }

    /// The pointer as written in the config (`/predictions/label`), used as the stats key.
    public var pointerText: String
    /// The parsed pointer.
    public var pointer: JSONPointer
    /// How the values are compared.
    public var kind: Kind
    /// For `number`: the largest absolute difference that still agrees (default 0).
    public var tolerance: Double

    /// Creates a field; nil when `pointer` is not an RFC 6901 pointer.
    public init?(pointer: String, kind: Kind, tolerance: Double = 0) {
        guard let p = JSONPointer(pointer) else { return nil }
        pointerText = pointer
        self.pointer = p
        self.kind = kind
        self.tolerance = tolerance
    }

    /// Compares the field in the primary's and the shadow's JSON answers.
    public func compare(_ primary: UnsafeRawBufferPointer, _ shadow: UnsafeRawBufferPointer) -> FieldComparison {
        guard let ra = pointer.valueRange(in: primary), let rb = pointer.valueRange(in: shadow) else { return .missing }
        let a = UnsafeRawBufferPointer(rebasing: primary[ra]), b = UnsafeRawBufferPointer(rebasing: shadow[rb])
        switch kind {
        case .label:
            let la = FieldValue.label(a), lb = FieldValue.label(b)
            return .label(primary: la, shadow: lb, agreed: la.elementsEqual(lb))
        case .number:
            guard let x = FieldValue.number(a), let y = FieldValue.number(b) else { return .missing }
            let diff = y - x
            return .number(difference: diff, agreed: x == y || abs(diff) <= tolerance + 1e-9)
        case .array:
            guard let ea = FieldValue.elements(a), let eb = FieldValue.elements(b) else { return .missing }
            let positions = max(ea.count, eb.count)
            var same = 0
            for i in 0..<min(ea.count, eb.count) where a[ea[i]].elementsEqual(b[eb[i]]) { same += 1 }
            // Overlap: shared distinct elements over all distinct elements (Jaccard), e.g. top-k labels.
            var shared = 0
            var distinctA = 0
            for (i, r) in ea.enumerated() where !ea[0..<i].contains(where: { a[$0].elementsEqual(a[r]) }) {
                distinctA += 1
                if eb.contains(where: { b[$0].elementsEqual(a[r]) }) { shared += 1 }
            }
            var distinctB = 0
            for (i, r) in eb.enumerated() where !eb[0..<i].contains(where: { b[$0].elementsEqual(b[r]) }) { distinctB += 1 }
            let union = distinctA + distinctB - shared
            return .array(positions: positions, agreeing: same, overlap: union == 0 ? 1 : Double(shared) / Double(union),
                          agreed: same == positions)
        }
    }
}

/// The outcome of comparing one field of a primary and a shadow answer.
public enum FieldComparison {
    /// Absent (or of the wrong kind) in either answer: not compared.
    case missing
    /// The two labels (string contents, or the raw JSON of a non-string), pointing into the answers.
    case label(primary: UnsafeRawBufferPointer, shadow: UnsafeRawBufferPointer, agreed: Bool)
    /// Shadow minus primary.
    case number(difference: Double, agreed: Bool)
    /// Positions compared (the longer length), positions equal, and the overlap of the element sets.
    case array(positions: Int, agreeing: Int, overlap: Double, agreed: Bool)
}

/// Reading one JSON value as a label, a number or the elements of an array.
enum FieldValue {
    /// A string's contents (escapes left as they are), or any other value's raw bytes.
    static func label(_ v: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if v.count >= 2, v[0] == UInt8(ascii: "\""), v[v.count - 1] == UInt8(ascii: "\"") {
            return UnsafeRawBufferPointer(rebasing: v[1..<(v.count - 1)])
        }
        return v
    }

    /// A JSON number (or a string holding one, as some servers send probabilities).
    static func number(_ v: UnsafeRawBufferPointer) -> Double? {
        let text = label(v)
        guard !text.isEmpty, text.count <= 64 else { return nil }
        return Double(String(decoding: text, as: UTF8.self))
    }

    /// The value ranges of an array's elements (at most 256), or nil when `v` is not an array.
    static func elements(_ v: UnsafeRawBufferPointer) -> [Range<Int>]? {
        guard v.count >= 2, v[0] == UInt8(ascii: "[") else { return nil }
        var scanner = JSONScanner(bytes: v, position: 1)
        var out: [Range<Int>] = []
        scanner.skipWhitespace()
        if scanner.position < v.count, v[scanner.position] == UInt8(ascii: "]") { return out }
        while out.count < 256 {
            scanner.skipWhitespace()
            let start = scanner.position
            guard scanner.skipValue() else { return nil }
            out.append(start..<scanner.position)
            scanner.skipWhitespace()
            guard scanner.position < v.count else { return nil }
            if v[scanner.position] == UInt8(ascii: ",") { scanner.position += 1; continue }
            if v[scanner.position] == UInt8(ascii: "]") { break }
            return nil
        }
        return out
    }
}
