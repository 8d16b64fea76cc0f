import Testing
@testable import SluiceHTTP1

/// The head parsers scan 16 bytes at a time (ByteScan): every position of a bad byte inside
/// long lines, and every line length around the vector width, must give the scalar answer.
@Suite struct VectorScanTests {
    /// A value of `length` bytes with `bad` at `position` (nil: none), then `trailing` spaces.
    func request(valueLength length: Int, bad: UInt8? = nil, at position: Int = 0, trailing: Int = 0) -> [UInt8] {
        var value = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        if let bad { value[position] = bad }
        return Array("GET / HTTP/1.1\r\nHost: a\r\nX-Long: ".utf8) + value
            + [UInt8](repeating: 32, count: trailing) + Array("\r\nX-Next: 1\r\n\r\n".utf8)
    }

    @Test func longValuesParseAtEveryLength() {
        for length in 1...70 {
            for trailing in [0, 1, 17] {
                let (result, head) = parseRequest(request(valueLength: length, trailing: trailing))
                #expect(result == .complete, "length \(length)")
                #expect(head.fields.count == 3)
                #expect(head.fields[1].valueLength == Int32(length), "length \(length) trailing \(trailing)")
            }
        }
    }

    @Test func controlBytesAreRejectedAtEveryPosition() {
        for bad: UInt8 in [0x00, 0x01, 0x0B, 0x1F, 0x7F] {
            for length in [15, 16, 17, 40] {
                for position in 0..<length {
                    let (result, _) = parseRequest(request(valueLength: length, bad: bad, at: position))
                    #expect(result == .error(.invalidFieldValue), "byte \(bad) at \(position) of \(length)")
                }
            }
        }
    }

    @Test func bareLineBreaksAreFoundAtEveryPosition() {
        for length in [15, 16, 17, 40] {
            for position in 0..<length {
                #expect(parseRequest(request(valueLength: length, bad: 0x0A, at: position)).0 == .error(.bareLF))
                #expect(parseRequest(request(valueLength: length, bad: 0x0D, at: position)).0 == .error(.bareCR))
            }
        }
    }

    @Test func tabsAndObsTextInsideLongValuesAreKept() {
        var bytes = request(valueLength: 40, bad: 0x09, at: 20)
        bytes[bytes.count - 30] = 0xE9
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.fields[1].valueLength == 40)
    }
}
