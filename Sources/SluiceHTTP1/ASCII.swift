/// Byte classification and case-insensitive comparison over raw bytes (RFC 9110 / 9112 grammar).
///
/// All functions are branch-light and allocation-free; they are used on the parsing hot path.
@usableFromInline
enum ASCII {
    @usableFromInline static let cr: UInt8 = 13
    @usableFromInline static let lf: UInt8 = 10
    @usableFromInline static let sp: UInt8 = 32
    @usableFromInline static let htab: UInt8 = 9
    @usableFromInline static let colon: UInt8 = 58
    @usableFromInline static let comma: UInt8 = 44
    @usableFromInline static let semicolon: UInt8 = 59

    /// tchar bitmap for bytes 0..<64 and 64..<128 (RFC 9110 §5.6.2).
    @usableFromInline static let tcharLow: UInt64 = 0x03ff_6cfa_0000_0000
    @usableFromInline static let tcharHigh: UInt64 = 0x57ff_ffff_c7ff_fffe

    /// Whether `b` is a `tchar` (a byte allowed in a token such as a method or field name).
    @inlinable @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        if b < 64 { return (tcharLow >> UInt64(b)) & 1 == 1 }
        if b < 128 { return (tcharHigh >> UInt64(b &- 64)) & 1 == 1 }
        return false
    }

    /// Whether `b` is SP or HTAB (optional whitespace).
    @inlinable @inline(__always)
    static func isOWS(_ b: UInt8) -> Bool { b == sp || b == htab }

    /// Whether `b` may appear in a field value: HTAB, SP, VCHAR or obs-text (not NUL/CTL/DEL).
    @inlinable @inline(__always)
    static func isFieldValueChar(_ b: UInt8) -> Bool { b >= 0x20 ? b != 0x7F : b == htab }

    /// Lowercases an ASCII letter; other bytes are returned unchanged.
    @inlinable @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { (b &- 65) < 26 ? b | 0x20 : b }

    /// The value of a hex digit, or nil.
    @inlinable @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt64? {
        if (b &- 48) < 10 { return UInt64(b &- 48) }
        let l = b | 0x20
        if (l &- 97) < 6 { return UInt64(l &- 87) }
        return nil
    }

    /// Compares `buf[start ..< start+length]` case-insensitively with a lowercase ASCII constant.
    /// Eight bytes per step (see `asciiLowerWord`); a name such as `content-length` is two word
    /// compares instead of fourteen byte steps (these run for every field of every head).
    @inlinable @inline(__always)
    static func equalsLowercase(_ buf: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ lowercase: StaticString) -> Bool {
        guard length == lowercase.utf8CodeUnitCount else { return false }
        let c = UnsafeRawPointer(lowercase.utf8Start)
        guard length >= 8, let base = buf.baseAddress else {
            var i = 0
            while i < length {
                if lower(buf[start &+ i]) != c.load(fromByteOffset: i, as: UInt8.self) { return false }
                i &+= 1
            }
            return true
        }
        let p = base + start
        var i = 0
        while i &+ 8 <= length {
            if asciiLowerWord(p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) != c.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i &+= 8
        }
        if i == length { return true }
        // The last, partly compared word again, ending at the last byte.
        let t = length &- 8
        return asciiLowerWord(p.loadUnaligned(fromByteOffset: t, as: UInt64.self)) == c.loadUnaligned(fromByteOffset: t, as: UInt64.self)
    }

    /// Compares `buf[start ..< start+length]` byte-exactly with an ASCII constant.
    @inlinable
    static func equalsExact(_ buf: UnsafeRawBufferPointer, _ start: Int, _ length: Int, _ constant: StaticString) -> Bool {
        guard length == constant.utf8CodeUnitCount else { return false }
        let c = constant.utf8Start
        var i = 0
        while i < length {
            if buf[start &+ i] != c[i] { return false }
            i &+= 1
        }
        return true
    }
}

/// Whether field `f`'s name inside `buf` equals `lowercaseName` (an all-lowercase ASCII constant),
/// compared case-insensitively.
@inlinable @inline(__always)
public func fieldNameEquals(_ buf: UnsafeRawBufferPointer, _ f: FieldRange, _ lowercaseName: StaticString) -> Bool {
    ASCII.equalsLowercase(buf, Int(f.nameStart), Int(f.nameLength), lowercaseName)
}

/// Whether `bytes` equals `lowercaseName` (an all-lowercase ASCII constant), compared case-insensitively.
@inlinable
public func asciiCaseInsensitiveEquals(_ bytes: UnsafeRawBufferPointer, _ lowercaseName: StaticString) -> Bool {
    ASCII.equalsLowercase(bytes, 0, bytes.count, lowercaseName)
}

/// Whether two byte strings are equal ignoring ASCII case (used to match Connection-listed names).
@inlinable
public func asciiCaseInsensitiveEquals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var i = 0
    while i < a.count {
        if ASCII.lower(a[i]) != ASCII.lower(b[i]) { return false }
        i &+= 1
    }
    return true
}

/// ASCII lowercase of each byte of a word: bit 5 is set exactly in the bytes `A`…`Z` (each byte's
/// top bit after adding 0x80 - 'A' and 0x80 - '[' to its low seven bits, which cannot carry into
/// the next byte; bytes ≥ 0x80 are left alone). Shared by the HTTP/1 name compares and the HTTP/2
/// header block's name folding.
@inlinable @inline(__always)
public func asciiLowerWord(_ w: UInt64) -> UInt64 {
    let low7 = w & 0x7F7F_7F7F_7F7F_7F7F
    let atLeastA = low7 &+ 0x3F3F_3F3F_3F3F_3F3F
    let pastZ = low7 &+ 0x2525_2525_2525_2525
    let upper = atLeastA & ~pastZ & ~w & 0x8080_8080_8080_8080
    return w | (upper &>> 2)
}
