/// Case-insensitive comparisons of raw header names against lowercase ASCII constants.
enum FieldName {
    /// True when `buffer[start..<start+length]` equals `name` ignoring ASCII case (`name` is lowercase).
    @inline(__always)
    static func equals(_ buffer: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ name: StaticString) -> Bool {
        guard length == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        var i = 0
        while i < length {
            var c = buffer[start + i]
            if c >= 65 && c <= 90 { c |= 0x20 }
            if c != p[i] { return false }
            i += 1
        }
        return true
    }

    /// True when two raw byte ranges are equal ignoring ASCII case.
    static func equals(_ buffer: UnsafeRawBufferPointer, _ a: Int, _ aLength: Int, _ b: Int, _ bLength: Int) -> Bool {
        guard aLength == bLength else { return false }
        var i = 0
        while i < aLength {
            var x = buffer[a + i], y = buffer[b + i]
            if x >= 65 && x <= 90 { x |= 0x20 }
            if y >= 65 && y <= 90 { y |= 0x20 }
            if x != y { return false }
            i += 1
        }
        return true
    }

    /// Hop-by-hop fields (RFC 9110 §7.6.1 plus the legacy and h2c ones) are never forwarded.
    static func isHopByHop(_ buffer: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> Bool {
        switch length {
        case 2: return equals(buffer, start, length, "te")
        case 7: return equals(buffer, start, length, "upgrade") || equals(buffer, start, length, "trailer")
        case 10: return equals(buffer, start, length, "connection") || equals(buffer, start, length, "keep-alive")
        case 14: return equals(buffer, start, length, "http2-settings")
        case 16: return equals(buffer, start, length, "proxy-connection")
        case 17: return equals(buffer, start, length, "transfer-encoding")
        case 18: return equals(buffer, start, length, "proxy-authenticate")
        case 19: return equals(buffer, start, length, "proxy-authorization")
        default: return false
        }
    }
}

/// The field names a `Connection` header lists: they are hop-by-hop for this message only.
struct ConnectionTokens {
    private var starts: [Int] = []
    private var lengths: [Int] = []

    init() {
        starts.reserveCapacity(4)
        lengths.reserveCapacity(4)
    }

    /// Collects the tokens of every `Connection` field among `fields`.
    mutating func collect<F: Sequence>(_ buffer: UnsafeRawBufferPointer, _ fields: F,
                                       name: (F.Element) -> (Int, Int), value: (F.Element) -> (Int, Int)) {
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        for f in fields {
            let (ns, nl) = name(f)
            guard FieldName.equals(buffer, ns, nl, "connection") else { continue }
            let (vs, vl) = value(f)
            var i = vs
            let end = vs + vl
            while i < end {
                while i < end, buffer[i] == 44 || buffer[i] == 32 || buffer[i] == 9 { i += 1 }
                let s = i
                while i < end, buffer[i] != 44, buffer[i] != 32, buffer[i] != 9 { i += 1 }
                if i > s { starts.append(s); lengths.append(i - s) }
            }
        }
    }

    /// True when the name at `start` is one of the collected tokens.
    @inline(__always)
    func contains(_ buffer: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> Bool {
        if starts.isEmpty { return false }
        for i in 0..<starts.count where FieldName.equals(buffer, starts[i], lengths[i], start, length) {
            return true
        }
        return false
    }
}
