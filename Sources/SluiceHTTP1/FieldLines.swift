/// Splits the field section of a complete head into `FieldRange`s, validating each field line.
///
/// Grammar enforced (RFC 9112 §5): `field-name ":" OWS field-value OWS`, where the name is a non-empty
/// token immediately followed by the colon, and the value contains only HTAB, SP, VCHAR and obs-text.
/// Lines starting with SP/HTAB (obsolete line folding) are rejected.
enum FieldLines {
    /// Parses the field lines in `buf[start ..< end]`, where `end` is the index of the CR of the final
    /// empty line and every line inside is already known to end in CRLF (see `HeadScanner`).
    static func parse(_ buf: UnsafeRawBufferPointer, from start: Int, to end: Int, into fields: inout [FieldRange]) throws(HTTP1Error) {
        var p = start
        while p < end {
            let first = buf[p]
            if ASCII.isOWS(first) { throw .obsFold }
            if first == ASCII.colon { throw .emptyFieldName }
            // Letters, digits and `-` in 16-byte steps (they bound `end`: the line's CR is not
            // one), then any rarer token character byte by byte until the colon.
            var q = ByteScan.firstNonNameByte(buf, from: p, to: end)
            while true {
                let b = buf[q]
                if b == ASCII.colon { break }
                if !ASCII.isTokenChar(b) { throw nameError(buf, q) }
                q &+= 1
            }
            let nameLength = q &- p
            q &+= 1
            while ASCII.isOWS(buf[q]) { q &+= 1 }
            let valueStart = q
            // Every line ends in CRLF before `end` (see HeadScanner), and buf[end] is a CR too.
            q = ByteScan.firstNonFieldValueByte(buf, from: q, to: end)
            if buf[q] != ASCII.cr { throw .invalidFieldValue }
            var valueEnd = q
            while valueEnd > valueStart && ASCII.isOWS(buf[valueEnd &- 1]) { valueEnd &-= 1 }
            fields.append(FieldRange(nameStart: Int32(truncatingIfNeeded: p), nameLength: Int32(truncatingIfNeeded: nameLength),
                                     valueStart: Int32(truncatingIfNeeded: valueStart),
                                     valueLength: Int32(truncatingIfNeeded: valueEnd &- valueStart)))
            p = q &+ 2
        }
    }

    /// Classifies a non-token byte found at `q` inside a field name.
    private static func nameError(_ buf: UnsafeRawBufferPointer, _ q: Int) -> HTTP1Error {
        let b = buf[q]
        if b == ASCII.cr { return .missingColon }
        if ASCII.isOWS(b) {
            var r = q
            while ASCII.isOWS(buf[r]) { r &+= 1 }
            return buf[r] == ASCII.colon ? .whitespaceBeforeColon : .invalidFieldName
        }
        return .invalidFieldName
    }
}

/// Iterates the elements of a comma-separated list value (`#element`, RFC 9110 §5.6.1) without allocating.
///
/// Each element is trimmed of OWS; empty elements (e.g. in `a, , b`) are returned with length 0 so that
/// callers can skip them.
struct ListCursor {
    private let buf: UnsafeRawBufferPointer
    private var p: Int
    private let end: Int

    /// Creates a cursor over `buf[start ..< end]`.
    init(_ buf: UnsafeRawBufferPointer, start: Int, end: Int) {
        self.buf = buf
        self.p = start
        self.end = end
    }

    /// Creates a cursor over the value of field `f`.
    init(_ buf: UnsafeRawBufferPointer, field f: FieldRange) {
        self.init(buf, start: Int(f.valueStart), end: Int(f.valueStart) + Int(f.valueLength))
    }

    /// The next element as `(start, length)`, or nil when the list is exhausted.
    mutating func next() -> (start: Int, length: Int)? {
        guard p <= end else { return nil }
        var s = p
        while s < end && ASCII.isOWS(buf[s]) { s &+= 1 }
        var e = s
        while e < end && buf[e] != ASCII.comma { e &+= 1 }
        p = e &+ 1
        var t = e
        while t > s && ASCII.isOWS(buf[t &- 1]) { t &-= 1 }
        return (s, t &- s)
    }
}
