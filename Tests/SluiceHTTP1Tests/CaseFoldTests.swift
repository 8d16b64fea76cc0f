import Testing
@testable import SluiceHTTP1

/// Name comparisons fold case eight bytes at a time (`asciiLowerWord`): they must agree with
/// the byte-by-byte rule for every byte value, at every position and length around the word size.
@Suite struct CaseFoldTests {
    @Test func lowerWordMatchesLowerOnEveryByte() {
        for b in 0...255 {
            for position in 0..<8 {
                let w = UInt64(b) << (8 * UInt64(position)) | 0x4142_4344_4546_4748 & ~(0xFF << (8 * UInt64(position)))
                let folded = asciiLowerWord(w)
                for k in 0..<8 {
                    let byte = UInt8(truncatingIfNeeded: w >> (8 * UInt64(k)))
                    #expect(UInt8(truncatingIfNeeded: folded >> (8 * UInt64(k))) == ASCII.lower(byte))
                }
            }
        }
    }

    @Test func equalsLowercaseAgreesWithTheByteRule() {
        let names: [StaticString] = ["te", "host", "expect", "upgrade", "keep-alive", "connection", "content-length",
                                     "http2-settings", "proxy-connection", "transfer-encoding", "proxy-authorization"]
        for name in names {
            let lower = Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            let upper = lower.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }
            for candidate in [lower, upper] {
                #expect(candidate.withUnsafeBytes { ASCII.equalsLowercase($0, 0, $0.count, name) })
                // Every single-byte change is a mismatch unless it only changes the case.
                for position in candidate.indices {
                    for b: UInt8 in [0x00, 0x0D, 0x2D, 0x40, 0x5B, 0x60, 0x7B, 0x7F, 0xC1, 0xE1, candidate[position] ^ 0x20] {
                        var changed = candidate
                        changed[position] = b
                        let expected = ASCII.lower(b) == lower[position]
                        // Embedded at an offset, as in a real head.
                        let padded = [UInt8](repeating: 0x41, count: 3) + changed + [13, 10]
                        #expect(padded.withUnsafeBytes { ASCII.equalsLowercase($0, 3, changed.count, name) } == expected,
                                "\(name) byte \(b) at \(position)")
                    }
                }
            }
        }
    }

    @Test func onlyConnectionTokensThatAreNotFixedHopByHopNamesAreCompared() {
        for (connection, others) in [("keep-alive", false), ("close", true), ("Keep-Alive, TE", false),
                                     ("keep-alive, X-Secret", true), ("x-b", true)] {
            let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: \(connection)\r\nX-Secret: 1\r\nX-B: 2\r\nClose: 3\r\n\r\n"
            let bytes = Array(raw.utf8)
            let (result, head) = parseRequest(bytes)
            #expect(result == .complete)
            #expect(head.connectionListsOthers == others, "\(connection)")
            bytes.withUnsafeBytes { buf in
                let hop = head.fields.map { head.isHopByHop(buf, $0) }
                let listed = head.fields.map { head.isConnectionListed(buf, $0) }
                // Same answer as the full rule: fixed names, or listed in Connection.
                #expect(hop == head.fields.indices.map { HopByHop.isHopByHop(buf, head.fields[$0]) || listed[$0] }, "\(connection)")
            }
            let response = "HTTP/1.1 200 OK\r\nConnection: \(connection)\r\nX-Secret: 1\r\nContent-Length: 0\r\n\r\n"
            let (r, rhead) = parseResponse(response)
            #expect(r == .complete)
            #expect(rhead.connectionListsOthers == others)
        }
    }
}

/// The Host value check is a bitmap per byte: it must accept exactly `uri-host [ ":" port ]`'s
/// characters (unreserved, sub-delims, `:`, `[`, `]`, `%`).
@Suite struct HostBitmapTests {
    @Test func hostBitmapsMatchTheGrammar() {
        let allowed = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:[]%".utf8))
        for b in 0...255 {
            let raw = Array("GET / HTTP/1.1\r\nHost: a".utf8) + [UInt8(b)] + Array("b\r\n\r\n".utf8)
            let (result, _) = parseRequest(raw)
            if allowed.contains(UInt8(b)) {
                #expect(result == .complete, "byte \(b)")
            } else if b == 0x20 || b == 0x09 || b >= 0x80 {
                #expect(result == .error(.invalidHost), "byte \(b)")   // a valid field value, not a host
            } else {
                #expect(result != .complete, "byte \(b)")
            }
        }
    }

    @Test func connectionKeepAliveShortcutKeepsTheToken() {
        let cases: [(String, [String], Bool)] = [
            ("keep-alive", ["keep-alive"], true), ("Keep-Alive", ["Keep-Alive"], true), ("KEEP-ALIVE", ["KEEP-ALIVE"], true),
            ("keep-alive, x", ["keep-alive", "x"], true), ("keep-alivf", ["keep-alivf"], false),
        ]
        for (value, expectedTokens, keepAlive) in cases {
            let bytes = Array("HTTP/1.0 200 OK\r\nConnection: \(value)\r\nContent-Length: 0\r\n\r\n".utf8)
            var parser = ResponseHeadParser()
            var head = ResponseHead()
            let result = bytes.withUnsafeBytes { parser.parse($0, requestWasHEAD: false, into: &head) }
            #expect(result == .complete)
            let tokens = head.connectionTokens.map { String(decoding: bytes[Int($0.start) ..< Int($0.start + $0.length)], as: UTF8.self) }
            #expect(tokens == expectedTokens, "\(value)")
            #expect(head.keepAlive == keepAlive, "\(value)")
        }
    }
}
