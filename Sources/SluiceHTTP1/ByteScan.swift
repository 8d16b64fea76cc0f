/// Vector scans for the head parsers' hottest loops: 16 bytes per step, and the position of the
/// first byte of interest is read from the block's comparison mask (no byte-by-byte rescan of the
/// block that holds it). Same results as the scalar loops they replace.
enum ByteScan {
    /// The index of the first CR or LF in `buf[from ..< end]`, or `end` when there is none.
    @inline(__always)
    static func firstLineBreak(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        let cr = SIMD16<UInt8>(repeating: ASCII.cr)
        let lf = SIMD16<UInt8>(repeating: ASCII.lf)
        return firstIndex(buf, from: from, to: end,
                          inBlock: { ($0 .== cr) .| ($0 .== lf) },
                          where: { $0 == ASCII.cr || $0 == ASCII.lf })
    }

    /// The index of the first byte in `buf[from ..< end]` that cannot be part of a field value
    /// (a control byte other than HTAB, or DEL; the CR ending the line is one), or `end`.
    @inline(__always)
    static func firstNonFieldValueByte(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        let space = SIMD16<UInt8>(repeating: ASCII.sp)
        let htab = SIMD16<UInt8>(repeating: ASCII.htab)
        let del = SIMD16<UInt8>(repeating: 0x7F)
        return firstIndex(buf, from: from, to: end,
                          inBlock: { (($0 .< space) .& ($0 .!= htab)) .| ($0 .== del) },
                          where: { !ASCII.isFieldValueChar($0) })
    }

    /// The index of the first byte in `buf[from ..< end]` that is not a letter, digit or `-` (the
    /// bytes of nearly every field name; the colon ending the name is one), or `end`. Callers
    /// check the byte found: a rarer token character (`_`, `.`, `!` …) continues the name.
    @inline(__always)
    static func firstNonNameByte(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        let caseBit = SIMD16<UInt8>(repeating: 0x20)
        let a = SIMD16<UInt8>(repeating: 0x61), letters = SIMD16<UInt8>(repeating: 26)
        let zero = SIMD16<UInt8>(repeating: 0x30), digits = SIMD16<UInt8>(repeating: 10)
        let dash = SIMD16<UInt8>(repeating: 0x2D)
        return firstIndex(buf, from: from, to: end,
                          inBlock: { v in
                              let alpha = ((v | caseBit) &- a) .< letters
                              let digit = (v &- zero) .< digits
                              return .!(alpha .| digit .| (v .== dash))
                          },
                          where: { b in
                              !((b | 0x20) &- 0x61 < 26 || b &- 0x30 < 10 || b == 0x2D)
                          })
    }

    /// The index of the first byte in `buf[from ..< end]` that cannot be in a request-target
    /// (outside 0x21…0x7E, or `#`), or `end`.
    @inline(__always)
    static func firstNonTargetByte(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        let bang = SIMD16<UInt8>(repeating: 0x21), width = SIMD16<UInt8>(repeating: 0x7F - 0x21)
        let hash = SIMD16<UInt8>(repeating: 0x23)
        return firstIndex(buf, from: from, to: end,
                          inBlock: { v in ((v &- bang) .>= width) .| (v .== hash) },
                          where: { b in b <= 0x20 || b >= 0x7F || b == 0x23 })
    }

    /// The lane of the first set element of `mask` (16 when none): the mask's 0x00/0xFF bytes
    /// read as two little-endian words, so the first set byte is the lowest set bit / 8.
    @inline(__always)
    static func firstLane(_ mask: SIMDMask<SIMD16<Int8>>) -> Int {
        let bytes = SIMD16<Int8>(repeating: 0).replacing(with: -1, where: mask)
        let words = unsafeBitCast(bytes, to: SIMD2<UInt64>.self)
        if words[0] != 0 { return words[0].trailingZeroBitCount &>> 3 }
        return 8 &+ (words[1].trailingZeroBitCount &>> 3)
    }

    /// Steps over 16-byte blocks none of whose bytes match `inBlock`, returning the first lane that
    /// does (at most `end`); blocks may extend past `end` up to the end of `buf`, so only the last
    /// `< 16` bytes of the buffer are tested one by one with `predicate`. Returns `end` when
    /// nothing in `buf[from ..< end]` matches.
    @inline(__always)
    private static func firstIndex(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int,
                                   inBlock: (SIMD16<UInt8>) -> SIMDMask<SIMD16<Int8>>,
                                   where predicate: (UInt8) -> Bool) -> Int {
        var i = from
        if let base = buf.baseAddress {
            let n = buf.count
            while i < end && i &+ 16 <= n {
                let lane = firstLane(inBlock((base + i).loadUnaligned(as: SIMD16<UInt8>.self)))
                if lane < 16 { return min(i &+ lane, end) }
                i &+= 16
            }
            if i >= end { return end }
        }
        while i < end {
            if predicate(buf[i]) { return i }
            i &+= 1
        }
        return end
    }
}
