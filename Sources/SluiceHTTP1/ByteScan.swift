/// Vector scans for the head parsers' hottest loops: 16 bytes per step while no byte of
/// interest is in sight, then byte by byte. Same results as the scalar loops they replace.
enum ByteScan {
    /// The index of the first CR or LF in `buf[from ..< end]`, or `end` when there is none.
    @inline(__always)
    static func firstLineBreak(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        var i = from
        if let base = buf.baseAddress {
            let cr = SIMD16<UInt8>(repeating: ASCII.cr)
            let lf = SIMD16<UInt8>(repeating: ASCII.lf)
            while i &+ 16 <= end {
                let v = (base + i).loadUnaligned(as: SIMD16<UInt8>.self)
                if any((v .== cr) .| (v .== lf)) { break }
                i &+= 16
            }
        }
        while i < end {
            let b = buf[i]
            if b == ASCII.cr || b == ASCII.lf { return i }
            i &+= 1
        }
        return end
    }

    /// The index of the first byte in `buf[from ..< end]` that cannot be part of a field value
    /// (a control byte other than HTAB, or DEL; the CR ending the line is one), or `end`.
    @inline(__always)
    static func firstNonFieldValueByte(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        var i = from
        if let base = buf.baseAddress {
            let space = SIMD16<UInt8>(repeating: ASCII.sp)
            let htab = SIMD16<UInt8>(repeating: ASCII.htab)
            let del = SIMD16<UInt8>(repeating: 0x7F)
            while i &+ 16 <= end {
                let v = (base + i).loadUnaligned(as: SIMD16<UInt8>.self)
                if any(((v .< space) .& (v .!= htab)) .| (v .== del)) { break }
                i &+= 16
            }
        }
        while i < end {
            if !ASCII.isFieldValueChar(buf[i]) { return i }
            i &+= 1
        }
        return end
    }
}
