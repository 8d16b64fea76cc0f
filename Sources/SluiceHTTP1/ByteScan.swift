/// Vector scans for the head parsers' hottest loops: 16 bytes per step while no byte of
/// interest is in sight, then byte by byte. Same results as the scalar loops they replace.
enum ByteScan {
    /// The index of the first CR or LF in `buf[from ..< end]`, or `end` when there is none.
    @inline(__always)
    static func firstLineBreak(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        let cr = SIMD16<UInt8>(repeating: ASCII.cr)
        let lf = SIMD16<UInt8>(repeating: ASCII.lf)
        return firstIndex(buf, from: from, to: end,
                          inBlock: { any(($0 .== cr) .| ($0 .== lf)) },
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
                          inBlock: { any((($0 .< space) .& ($0 .!= htab)) .| ($0 .== del)) },
                          where: { !ASCII.isFieldValueChar($0) })
    }

    /// Skips 16-byte blocks for which `inBlock` is false (none of their bytes can match), then
    /// returns the index of the first byte matching `predicate`, or `end`.
    @inline(__always)
    private static func firstIndex(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int,
                                   inBlock: (SIMD16<UInt8>) -> Bool, where predicate: (UInt8) -> Bool) -> Int {
        var i = from
        if let base = buf.baseAddress {
            while i &+ 16 <= end, !inBlock((base + i).loadUnaligned(as: SIMD16<UInt8>.self)) { i &+= 16 }
        }
        while i < end {
            if predicate(buf[i]) { return i }
            i &+= 1
        }
        return end
    }
}
