import Testing
@testable import SluiceProxy

/// Request ids are written eight hex digits at a time with word arithmetic: every nibble value
/// at every position must come out as `String(radix: 16)` spells it.
@Suite struct RequestIDHexTests {
    func hex16(_ v: UInt64) -> String {
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBufferPointer { Worker.writeHex16(v, to: $0.baseAddress!) }
        return String(decoding: out, as: UTF8.self)
    }

    func expected(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    @Test func everyNibbleAtEveryPosition() {
        for position in 0..<16 {
            for nibble in UInt64(0)...15 {
                let v = nibble << (4 * UInt64(position))
                #expect(hex16(v) == expected(v))
                #expect(hex16(~v) == expected(~v))
            }
        }
    }

    @Test func randomValues() {
        var rng = SystemRandomNumberGenerator()
        for v in [0, UInt64.max, 0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210] + (0..<1000).map({ _ in rng.next() }) {
            #expect(hex16(v) == expected(v))
        }
    }
}
