import Testing
import SluiceHTTP1

@Suite struct ResponseParserTests {
    @Test func okWithContentLength() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
        let bytes = Array(raw.utf8)
        let (result, head) = parseResponse(raw)
        #expect(result == .complete)
        #expect(head.status == 200)
        #expect(head.versionMinor == 1)
        #expect(text(bytes, head.reasonStart, head.reasonLength) == "OK")
        #expect(head.framing == .contentLength(5))
        #expect(head.keepAlive)
        #expect(head.headLength == bytes.count - 5)
        #expect(fieldTexts(bytes, head.fields) == ["Content-Length=5", "Content-Type=text/plain"])
    }

    @Test(arguments: [
        ("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, BodyFraming.none),
        ("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false, BodyFraming.none),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true, BodyFraming.none),
        ("HTTP/1.1 100 Continue\r\n\r\n", false, BodyFraming.none),
        ("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", false, BodyFraming.none),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, BodyFraming.chunked),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", false, BodyFraming.chunked),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, BodyFraming.untilClose),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", false, BodyFraming.contentLength(3)),
        ("HTTP/1.1 200 OK\r\n\r\n", false, BodyFraming.untilClose),
        ("HTTP/1.0 200 OK\r\n\r\n", false, BodyFraming.untilClose),
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false, BodyFraming.contentLength(0)),
    ])
    func framing(_ raw: String, _ head: Bool, _ expected: BodyFraming) {
        let (result, parsed) = parseResponse(raw, requestWasHEAD: head)
        #expect(result == .complete)
        #expect(parsed.framing == expected)
        if expected == .untilClose { #expect(!parsed.keepAlive) }
    }

    @Test func statusCodesAndReasons() {
        #expect(parseResponse("HTTP/1.1 599 Whatever You Like\r\n\r\n").1.status == 599)
        let (r, h) = parseResponse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        #expect(r == .complete && h.status == 200 && h.reasonLength == 0)
        let (r2, h2) = parseResponse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")
        #expect(r2 == .complete && h2.reasonLength == 0)
    }

    @Test func keepAlive() {
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").1.keepAlive == false)
        #expect(parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").1.keepAlive == false)
        #expect(parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n").1.keepAlive == true)
    }

    @Test func continueThenOK() {
        let raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let bytes = Array(raw.utf8)
        var parser = ResponseHeadParser()
        var head = ResponseHead()
        #expect(bytes.withUnsafeBytes { parser.parse($0, requestWasHEAD: false, into: &head) } == .complete)
        #expect(head.status == 100 && head.isInformational && head.framing == .none)
        let rest = Array(bytes[head.headLength...])
        parser.reset()
        #expect(rest.withUnsafeBytes { parser.parse($0, requestWasHEAD: false, into: &head) } == .complete)
        #expect(head.status == 200 && !head.isInformational && head.framing == .contentLength(2))
        #expect(rest.count - head.headLength == 2)
    }

    @Test func connectionListedNames() {
        let raw = "HTTP/1.1 200 OK\r\nConnection: x-trace\r\nX-Trace: 1\r\nContent-Length: 0\r\n\r\n"
        let bytes = Array(raw.utf8)
        let (result, head) = parseResponse(raw)
        #expect(result == .complete)
        bytes.withUnsafeBytes { buf in
            #expect(head.fields.map { head.isHopByHop(buf, $0) } == [true, true, false])
        }
    }

    @Test(arguments: [
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 600 Nope\r\n\r\n",
        "HTTP/1.1 099 Nope\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 O\u{1}K\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
    ])
    func rejectsMalformedStatusLines(_ raw: String) {
        #expect(parseResponse(raw).0 == .error(.invalidStatusLine))
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1Error.contentLengthAndTransferEncoding),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", HTTP1Error.conflictingContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", HTTP1Error.invalidContentLength),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", HTTP1Error.chunkedTwice),
        ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1Error.transferEncodingHTTP10),
        ("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP1Error.obsFold),
        ("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", HTTP1Error.whitespaceBeforeColon),
        ("HTTP/1.1 200 OK\nX: a\r\n\r\n", HTTP1Error.bareLF),
        ("HTTP/1.1 200 OK\r\nX: a\u{0}\r\n\r\n", HTTP1Error.invalidFieldValue),
    ])
    func rejectsAsBadGateway(_ raw: String, _ underlying: HTTP1Error) {
        let (result, _) = parseResponse(raw)
        #expect(result == .error(underlying.asUpstream))
        if case .error(let e) = result { #expect(e.status == 502 && e.code == "bad_gateway") }
    }

    @Test func limitsApplyToResponses() {
        let limits = HTTP1Limits(maxHeaderCount: 1)
        #expect(parseResponse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n", limits: limits).0 == .error(HTTP1Error.tooManyHeaders.asUpstream))
    }

    @Test func incrementalResponse() {
        let bytes = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8)
        var reference = ResponseHead()
        var p0 = ResponseHeadParser()
        #expect(bytes.withUnsafeBytes { p0.parse($0, requestWasHEAD: false, into: &reference) } == .complete)
        for split in 0 ... bytes.count {
            var parser = ResponseHeadParser()
            var head = ResponseHead()
            let first = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[0 ..< split]), requestWasHEAD: false, into: &head) }
            if split < bytes.count { #expect(first == .incomplete) }
            #expect(bytes.withUnsafeBytes { parser.parse($0, requestWasHEAD: false, into: &head) } == .complete)
            #expect(head == reference)
        }
    }

    @Test func responseHostIsNotValidated() {
        #expect(parseResponse("HTTP/1.1 200 OK\r\nHost: not a host/\r\nContent-Length: 0\r\n\r\n").0 == .complete)
    }
}
