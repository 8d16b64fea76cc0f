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

/// Field names are scanned 16 bytes at a time for letters, digits and `-`; every other token
/// character, at every position of names around the vector width, must still be accepted, and
/// every bad byte rejected with the scalar parser's error. Blocks may read past the head into
/// the body that follows it: a body must never change the answer.
@Suite struct NameScanTests {
    func request(name: [UInt8], body: String = "") -> [UInt8] {
        Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8) + name + Array(": v\r\nX-Next: 1\r\n\r\n\(body)".utf8)
    }

    func name(length: Int, byte: UInt8? = nil, at position: Int = 0) -> [UInt8] {
        var n = (0..<length).map { UInt8(ascii: "A") + UInt8($0 % 26) }
        if let byte { n[position] = byte }
        return n
    }

    @Test func rareTokenCharactersAreAcceptedAtEveryPosition() {
        for byte in Array("!#$%&'*+.^_`|~09azAZ-".utf8) {
            for length in [1, 15, 16, 17, 33] {
                for position in 0..<length {
                    for body in ["", String(repeating: "b", count: 40)] {
                        let n = name(length: length, byte: byte, at: position)
                        let (result, head) = parseRequest(request(name: n, body: body))
                        #expect(result == .complete, "\(byte) at \(position) of \(length)")
                        #expect(head.fields.count == 3)
                        #expect(head.fields[1].nameLength == Int32(length))
                    }
                }
            }
        }
    }

    @Test func badNameBytesAreRejectedAtEveryPosition() {
        for length in [2, 15, 16, 17, 33] {
            for position in 1..<length {
                for body in ["", String(repeating: "b", count: 40)] {
                    for byte: UInt8 in [0x40, 0x22, 0x28, 0x7B, 0x7F, 0xC3, 0x00] {
                        let (result, _) = parseRequest(request(name: name(length: length, byte: byte, at: position), body: body))
                        #expect(result == .error(.invalidFieldName), "\(byte) at \(position) of \(length)")
                    }
                    // A space inside the name, then more name: not a "space before colon".
                    let spaced = parseRequest(request(name: name(length: length, byte: 0x20, at: position), body: body)).0
                    #expect(spaced == (position == length - 1 ? .error(.whitespaceBeforeColon) : .error(.invalidFieldName)))
                }
            }
        }
    }

    @Test func aLineWithoutColonIsFoundAfterLongNames() {
        for length in [1, 15, 16, 17, 40] {
            let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\n".utf8) + name(length: length) + Array("\r\n\r\nbodybodybodybodybody".utf8)
            #expect(parseRequest(bytes).0 == .error(.missingColon), "length \(length)")
        }
    }

    @Test func headsFollowedByBodiesParseLikeHeadsAlone() {
        for length in 1...40 {
            let value = String(repeating: "v", count: length)
            let text = "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\nX-\(value): \(value)\r\n\r\n"
            let alone = parseRequest(text)
            let withBody = parseRequest(text + String(repeating: "\r\n\u{7F}x", count: 10))
            #expect(alone.0 == .complete)
            #expect(withBody.0 == alone.0)
            #expect(withBody.1 == alone.1, "length \(length)")
        }
    }
}
