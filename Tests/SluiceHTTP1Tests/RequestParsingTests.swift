import Testing
import SluiceHTTP1

@Suite struct RequestParsingTests {
    @Test func simpleGET() {
        let raw = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  */*  \r\nX-Empty:\r\n\r\n"
        let bytes = Array(raw.utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.headLength == bytes.count)
        #expect(text(bytes, head.methodStart, head.methodLength) == "GET")
        #expect(text(bytes, head.targetStart, head.targetLength) == "/index.html?q=1")
        #expect(head.versionMinor == 1)
        #expect(fieldTexts(bytes, head.fields) == ["Host=example.com", "Accept=*/*", "X-Empty="])
        #expect(head.framing == .none)
        #expect(head.keepAlive)
        #expect(!head.expectContinue)
        #expect(!head.isHEAD)
        #expect(head.hostIndex == 0)
        #expect(head.connectionTokens.isEmpty)
    }

    @Test func postWithContentLength() {
        let raw = "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        let bytes = Array(raw.utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.framing == .contentLength(5))
        #expect(head.headLength == bytes.count - 5)
    }

    @Test func chunkedRequest() {
        let (result, head) = parseRequest("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n")
        #expect(result == .complete)
        #expect(head.framing == .chunked)
    }

    @Test func contentLengthLeadingZerosAndLarge() {
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n").1.framing == .contentLength(7))
        #expect(parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n").1.framing == .contentLength(UInt64.max))
    }

    @Test func pipelinedRequests() {
        let raw = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n"
        let bytes = Array(raw.utf8)
        var parser = RequestHeadParser()
        var head = RequestHead()
        let first = bytes.withUnsafeBytes { parser.parse($0, into: &head) }
        #expect(first == .complete)
        #expect(text(bytes, head.targetStart, head.targetLength) == "/a")
        #expect(head.keepAlive)
        let consumed = head.headLength
        parser.reset()
        let rest = Array(bytes[consumed...])
        let second = rest.withUnsafeBytes { parser.parse($0, into: &head) }
        #expect(second == .complete)
        #expect(text(rest, head.targetStart, head.targetLength) == "/b")
        #expect(!head.keepAlive)
        #expect(head.headLength == rest.count)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false),
    ])
    func keepAliveDefaults(_ raw: String, _ expected: Bool) {
        let (result, head) = parseRequest(raw)
        #expect(result == .complete)
        #expect(head.keepAlive == expected)
    }

    @Test func http10WithoutHostIsAccepted() {
        let (result, head) = parseRequest("GET / HTTP/1.0\r\n\r\n")
        #expect(result == .complete)
        #expect(head.versionMinor == 0)
        #expect(head.hostIndex == nil)
    }

    @Test func leadingEmptyLinesAreSkipped() {
        let bytes = Array("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.methodStart == 4)
        #expect(head.headLength == bytes.count)
    }

    @Test func targetForms() {
        #expect(parseRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").0 == .complete)
        #expect(parseRequest("GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n").0 == .complete)
        #expect(parseRequest("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n").0 == .complete)
        #expect(parseRequest("GET /a%20b/c;d=e?x=[1]&y=|{}| HTTP/1.1\r\nHost: a\r\n\r\n").0 == .complete)
    }

    @Test func headAndExpect() {
        let (r1, h1) = parseRequest("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r1 == .complete && h1.isHEAD)
        let (r2, h2) = parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-Continue\r\n\r\n")
        #expect(r2 == .complete && h2.expectContinue)
        // Expect is ignored on HTTP/1.0.
        let (r3, h3) = parseRequest("POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: foo\r\n\r\n")
        #expect(r3 == .complete && !h3.expectContinue)
    }

    /// `curl --http2 http://…` asks to upgrade to h2c: the request parses, and Upgrade,
    /// HTTP2-Settings and the Connection tokens naming them are hop-by-hop (never forwarded).
    @Test func h2cUpgradeParsesWithItsFieldsHopByHop() {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nX-Keep: 1\r\n\r\n"
        let bytes = Array(raw.utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.hasUpgrade)
        bytes.withUnsafeBytes { buf in
            #expect(head.fields.map { head.isHopByHop(buf, $0) } == [false, true, true, true, false])
        }
    }

    @Test func connectionTokensAndHopByHop() {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret ,,\r\nX-Secret: 1\r\nX-Other: 2\r\nTE: trailers\r\nUpgrade: websocket\r\n\r\n"
        let bytes = Array(raw.utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.connectionTokens.map { text(bytes, Int($0.start), Int($0.length)) } == ["keep-alive", "X-Secret"])
        #expect(head.hasUpgrade)
        bytes.withUnsafeBytes { buf in
            let hop = head.fields.map { head.isHopByHop(buf, $0) }
            #expect(hop == [false, true, true, false, true, true])
            #expect(head.isConnectionListed(buf, head.fields[2]))
            #expect(!head.isConnectionListed(buf, head.fields[3]))
            #expect(fieldNameEquals(buf, head.fields[0], "host"))
            #expect(!fieldNameEquals(buf, head.fields[0], "hos"))
            #expect(head.firstIndex(buf, name: "x-other") == 3)
        }
    }

    @Test func hopByHopNames() {
        for name in ["Connection", "keep-alive", "Proxy-Connection", "transfer-encoding", "TE", "Trailer", "upgrade",
                     "Proxy-Authenticate", "proxy-authorization", "HTTP2-Settings"] {
            #expect(Array(name.utf8).withUnsafeBytes { HopByHop.isHopByHop($0) }, "\(name)")
        }
        for name in ["Host", "Content-Length", "tea", "Trailers", "x-upgrade"] {
            #expect(!Array(name.utf8).withUnsafeBytes { HopByHop.isHopByHop($0) }, "\(name)")
        }
    }

    @Test func obsTextInValueIsAllowed() {
        let bytes: [UInt8] = Array("GET / HTTP/1.1\r\nHost: a\r\nX-A: caf".utf8) + [0xC3, 0xA9] + Array("\t\r\n\r\n".utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        #expect(head.fields[1].valueLength == 5)
    }

    @Test func headReuseKeepsCapacity() {
        var parser = RequestHeadParser()
        var head = RequestHead()
        let bytes = Array(("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-A: b\r\n", count: 40) + "\r\n").utf8)
        #expect(bytes.withUnsafeBytes { parser.parse($0, into: &head) } == .complete)
        let capacity = head.fields.capacity
        parser.reset()
        #expect(bytes.withUnsafeBytes { parser.parse($0, into: &head) } == .complete)
        #expect(head.fields.capacity == capacity)
        #expect(head.fields.count == 41)
    }

    @Test func unboundedLimitsDoNotOverflow() {
        let limits = HTTP1Limits(maxRequestLine: Int.max, maxHeaderLine: Int.max, maxHeadBytes: Int.max, maxHeaderCount: Int.max)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n\r\n", limits: limits).0 == .complete)
        #expect(parseRequest("GET / HTTP/1.1\r\nHost: a\r\n", limits: limits).0 == .incomplete)
    }
}
