import Testing
import SluiceHTTP1

/// One malformed request and the exact error it must produce.
struct Rejection: CustomTestStringConvertible, Sendable {
    var name: String
    var head: String
    var error: HTTP1Error
    var limits = HTTP1Limits()
    var testDescription: String { name }
}

private let h = "Host: example.com\r\n"

let rejections: [Rejection] = [
    // Framing
    Rejection(name: "CL and TE", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", error: .contentLengthAndTransferEncoding),
    Rejection(name: "TE and CL", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", error: .contentLengthAndTransferEncoding),
    Rejection(name: "differing CLs", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 3\r\nContent-Length: 4\r\n\r\n", error: .conflictingContentLength),
    Rejection(name: "duplicate identical CL", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 3\r\nContent-Length: 3\r\n\r\n", error: .duplicateContentLength),
    Rejection(name: "CL list in one field", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 3, 3\r\n\r\n", error: .invalidContentLength),
    Rejection(name: "non-digit CL", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 3a\r\n\r\n", error: .invalidContentLength),
    Rejection(name: "signed CL", head: "POST / HTTP/1.1\r\n\(h)Content-Length: +3\r\n\r\n", error: .invalidContentLength),
    Rejection(name: "empty CL", head: "POST / HTTP/1.1\r\n\(h)Content-Length: \r\n\r\n", error: .invalidContentLength),
    Rejection(name: "CL overflow", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 18446744073709551616\r\n\r\n", error: .contentLengthOverflow),
    Rejection(name: "TE gzip only", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: gzip\r\n\r\n", error: .transferEncodingNotChunked),
    Rejection(name: "TE chunked then gzip", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked, gzip\r\n\r\n", error: .transferEncodingNotChunked),
    Rejection(name: "TE gzip, chunked", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: gzip, chunked\r\n\r\n", error: .unsupportedTransferCoding),
    Rejection(name: "TE chunked twice", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked, chunked\r\n\r\n", error: .chunkedTwice),
    Rejection(name: "TE chunked in two fields", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", error: .chunkedTwice),
    Rejection(name: "TE empty", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: \r\n\r\n", error: .invalidTransferEncoding),
    Rejection(name: "TE xchunked", head: "POST / HTTP/1.1\r\n\(h)Transfer-Encoding: xchunked\r\n\r\n", error: .transferEncodingNotChunked),
    Rejection(name: "TE on HTTP/1.0", head: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", error: .transferEncodingHTTP10),
    // Line structure
    Rejection(name: "obs-fold", head: "GET / HTTP/1.1\r\n\(h)X-A: a\r\n b\r\n\r\n", error: .obsFold),
    Rejection(name: "obs-fold tab", head: "GET / HTTP/1.1\r\n\(h)X-A: a\r\n\tb\r\n\r\n", error: .obsFold),
    Rejection(name: "whitespace before first field", head: "GET / HTTP/1.1\r\n \(h)\r\n", error: .obsFold),
    Rejection(name: "bare CR in value", head: "GET / HTTP/1.1\r\n\(h)X-A: a\rb\r\n\r\n", error: .bareCR),
    Rejection(name: "bare LF line end", head: "GET / HTTP/1.1\r\nHost: a\n\r\n", error: .bareLF),
    Rejection(name: "bare LF request line", head: "GET / HTTP/1.1\n\(h)\r\n", error: .bareLF),
    Rejection(name: "LF LF terminator", head: "GET / HTTP/1.1\r\n\(h)\n", error: .bareLF),
    Rejection(name: "NUL in value", head: "GET / HTTP/1.1\r\n\(h)X-A: a\u{0}b\r\n\r\n", error: .invalidFieldValue),
    Rejection(name: "CTL in value", head: "GET / HTTP/1.1\r\n\(h)X-A: a\u{1}b\r\n\r\n", error: .invalidFieldValue),
    Rejection(name: "DEL in value", head: "GET / HTTP/1.1\r\n\(h)X-A: a\u{7F}b\r\n\r\n", error: .invalidFieldValue),
    // Field names
    Rejection(name: "space before colon", head: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", error: .whitespaceBeforeColon),
    Rejection(name: "tab before colon", head: "GET / HTTP/1.1\r\n\(h)Content-Length\t: 0\r\n\r\n", error: .whitespaceBeforeColon),
    Rejection(name: "space inside name", head: "GET / HTTP/1.1\r\n\(h)X A: a\r\n\r\n", error: .invalidFieldName),
    Rejection(name: "empty name", head: "GET / HTTP/1.1\r\n\(h): a\r\n\r\n", error: .emptyFieldName),
    Rejection(name: "non-token name", head: "GET / HTTP/1.1\r\n\(h)X(A): a\r\n\r\n", error: .invalidFieldName),
    Rejection(name: "no colon", head: "GET / HTTP/1.1\r\n\(h)XA\r\n\r\n", error: .missingColon),
    // Request line
    Rejection(name: "non-token method", head: "G(T / HTTP/1.1\r\n\(h)\r\n", error: .invalidMethod),
    Rejection(name: "double space", head: "GET  / HTTP/1.1\r\n\(h)\r\n", error: .invalidRequestLine),
    Rejection(name: "two parts", head: "GET /\r\n\(h)\r\n", error: .invalidRequestLine),
    Rejection(name: "leading space", head: " GET / HTTP/1.1\r\n\(h)\r\n", error: .invalidRequestLine),
    Rejection(name: "space in target", head: "GET /a b HTTP/1.1\r\n\(h)\r\n", error: .invalidTargetCharacter),
    Rejection(name: "CTL in target", head: "GET /a\u{1}b HTTP/1.1\r\n\(h)\r\n", error: .invalidTargetCharacter),
    Rejection(name: "tab in target", head: "GET /a\tb HTTP/1.1\r\n\(h)\r\n", error: .invalidTargetCharacter),
    Rejection(name: "non-ASCII in target", head: "GET /é HTTP/1.1\r\n\(h)\r\n", error: .invalidTargetCharacter),
    Rejection(name: "fragment in target", head: "GET /a#b HTTP/1.1\r\n\(h)\r\n", error: .invalidTargetCharacter),
    Rejection(name: "relative target", head: "GET a/b HTTP/1.1\r\n\(h)\r\n", error: .invalidTarget),
    Rejection(name: "ftp scheme", head: "GET ftp://example.com/ HTTP/1.1\r\n\(h)\r\n", error: .invalidTarget),
    Rejection(name: "empty authority", head: "GET http:///a HTTP/1.1\r\n\(h)\r\n", error: .invalidTarget),
    Rejection(name: "userinfo", head: "GET http://u@example.com/ HTTP/1.1\r\n\(h)\r\n", error: .invalidTarget),
    Rejection(name: "authority-form with GET", head: "GET example.com:443 HTTP/1.1\r\n\(h)\r\n", error: .invalidTarget),
    Rejection(name: "asterisk with GET", head: "GET * HTTP/1.1\r\n\(h)\r\n", error: .asteriskWithoutOptions),
    Rejection(name: "CONNECT", head: "CONNECT example.com:443 HTTP/1.1\r\n\(h)\r\n", error: .connectNotSupported),
    Rejection(name: "HTTP/2.0", head: "GET / HTTP/2.0\r\n\(h)\r\n", error: .versionNotSupported),
    Rejection(name: "HTTP/1.2", head: "GET / HTTP/1.2\r\n\(h)\r\n", error: .versionNotSupported),
    Rejection(name: "HTTP/0.9", head: "GET / HTTP/0.9\r\n\(h)\r\n", error: .versionNotSupported),
    Rejection(name: "lowercase version", head: "GET / http/1.1\r\n\(h)\r\n", error: .invalidVersion),
    Rejection(name: "garbage version", head: "GET / HTTP/1.10\r\n\(h)\r\n", error: .invalidVersion),
    Rejection(name: "trailing space", head: "GET / HTTP/1.1 \r\n\(h)\r\n", error: .invalidVersion),
    // Host
    Rejection(name: "missing Host", head: "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", error: .missingHost),
    Rejection(name: "two Hosts", head: "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", error: .multipleHost),
    Rejection(name: "two Hosts on 1.0", head: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", error: .multipleHost),
    Rejection(name: "invalid Host", head: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", error: .invalidHost),
    Rejection(name: "Host with slash", head: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", error: .invalidHost),
    // Expect, Connection (an h2c upgrade is served over HTTP/1.1: see RequestParsingTests)
    Rejection(name: "Expect other", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 1\r\nExpect: 200-ok\r\n\r\n", error: .expectationFailed),
    Rejection(name: "Connection lists Content-Length", head: "POST / HTTP/1.1\r\n\(h)Content-Length: 1\r\nConnection: content-length\r\n\r\n", error: .connectionListsEndToEnd),
    Rejection(name: "Connection non-token", head: "GET / HTTP/1.1\r\n\(h)Connection: a b\r\n\r\n", error: .invalidConnection),
    // Limits (all complete heads; the incomplete variants are tested separately)
    Rejection(name: "request line too long", head: "GET /\(String(repeating: "a", count: 100)) HTTP/1.1\r\n\(h)\r\n",
              error: .requestLineTooLong, limits: HTTP1Limits(maxRequestLine: 64)),
    Rejection(name: "header line too long", head: "GET / HTTP/1.1\r\n\(h)X-A: \(String(repeating: "a", count: 100))\r\n\r\n",
              error: .headerLineTooLong, limits: HTTP1Limits(maxHeaderLine: 64)),
    Rejection(name: "head too large", head: "GET / HTTP/1.1\r\n\(h)X-A: \(String(repeating: "a", count: 50))\r\nX-B: \(String(repeating: "b", count: 50))\r\n\r\n",
              error: .headTooLarge, limits: HTTP1Limits(maxHeadBytes: 100)),
    Rejection(name: "too many headers", head: "GET / HTTP/1.1\r\n\(h)" + String(repeating: "X-A: 1\r\n", count: 3) + "\r\n",
              error: .tooManyHeaders, limits: HTTP1Limits(maxHeaderCount: 3)),
]

@Suite struct RequestRejectionTests {
    @Test(arguments: rejections)
    func rejects(_ c: Rejection) {
        let (result, _) = parseRequest(c.head, limits: c.limits)
        #expect(result == .error(c.error))
        // Same result at every split point (prefix then whole).
        let bytes = Array(c.head.utf8)
        for split in 0 ... bytes.count {
            let (r, _) = parseRequestIncrementally(bytes, split: split, byteWise: false, limits: c.limits)
            #expect(r == .error(c.error), "split at \(split)")
        }
    }

    @Test func errorStatusesAndCodes() {
        #expect(HTTP1Error.requestLineTooLong.status == 414 && HTTP1Error.requestLineTooLong.code == "request_line_too_long")
        #expect(HTTP1Error.headerLineTooLong.status == 431 && HTTP1Error.headerLineTooLong.code == "headers_too_large")
        #expect(HTTP1Error.headTooLarge.status == 431 && HTTP1Error.headTooLarge.code == "headers_too_large")
        #expect(HTTP1Error.tooManyHeaders.status == 431 && HTTP1Error.tooManyHeaders.code == "too_many_headers")
        #expect(HTTP1Error.contentLengthAndTransferEncoding == HTTP1Error(status: 400, code: "bad_request", message: "both Content-Length and Transfer-Encoding"))
        #expect(HTTP1Error.unsupportedTransferCoding.status == 501 && HTTP1Error.unsupportedTransferCoding.code == "not_implemented")
        #expect(HTTP1Error.connectNotSupported.status == 501 && HTTP1Error.connectNotSupported.code == "not_implemented")
        #expect(HTTP1Error.versionNotSupported.status == 505 && HTTP1Error.versionNotSupported.code == "version_not_supported")
        #expect(HTTP1Error.expectationFailed.status == 417 && HTTP1Error.expectationFailed.code == "expectation_failed")
        #expect(HTTP1Error.obsFold.status == 400 && HTTP1Error.obsFold.code == "bad_request")
    }

    @Test func requestLineTooLongWithoutTerminator() {
        let limits = HTTP1Limits(maxRequestLine: 64)
        #expect(parseRequest("GET /" + String(repeating: "a", count: 59), limits: limits).0 == .incomplete)
        #expect(parseRequest("GET /" + String(repeating: "a", count: 60), limits: limits).0 == .error(.requestLineTooLong))
        // Exactly at the limit is fine.
        #expect(parseRequest("GET /" + String(repeating: "a", count: 50) + " HTTP/1.1\r", limits: limits).0 == .incomplete)
    }

    @Test func headerLineTooLongWithoutTerminator() {
        let limits = HTTP1Limits(maxHeaderLine: 16)
        #expect(parseRequest("GET / HTTP/1.1\r\nX-A: 0123456789a", limits: limits).0 == .incomplete)
        #expect(parseRequest("GET / HTTP/1.1\r\nX-A: 0123456789ab", limits: limits).0 == .error(.headerLineTooLong))
    }

    @Test func headTooLargeWithoutTerminator() {
        let limits = HTTP1Limits(maxHeadBytes: 40)
        let head = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 0123456789"
        #expect(parseRequest(String(head.prefix(40)), limits: limits).0 == .incomplete)
        #expect(parseRequest(head + "abc", limits: limits).0 == .error(.headTooLarge))
        // A head of exactly maxHeadBytes is accepted.
        let exact = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 012345\r\n\r\n"
        #expect(exact.utf8.count == 40)
        #expect(parseRequest(exact, limits: limits).0 == .complete)
        #expect(parseRequest(exact, limits: HTTP1Limits(maxHeadBytes: 39)).0 == .error(.headTooLarge))
    }

    @Test func tooManyHeadersWithoutTerminator() {
        let limits = HTTP1Limits(maxHeaderCount: 2)
        #expect(parseRequest("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n", limits: limits).0 == .incomplete)
        #expect(parseRequest("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n", limits: limits).0 == .error(.tooManyHeaders))
    }

    @Test func garbageWithoutNewlineHitsRequestLineLimit() {
        let junk = [UInt8](repeating: 0x16, count: 9000)
        #expect(parseRequest(junk).0 == .error(.requestLineTooLong))
    }

    @Test func errorIsSticky() {
        var parser = RequestHeadParser()
        var head = RequestHead()
        let bad = Array("GET / HTTP/1.1\nHost: a\r\n\r\n".utf8)
        #expect(bad.withUnsafeBytes { parser.parse($0, into: &head) } == .error(.bareLF))
        #expect(bad.withUnsafeBytes { parser.parse($0, into: &head) } == .error(.bareLF))
        parser.reset()
        let good = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        #expect(good.withUnsafeBytes { parser.parse($0, into: &head) } == .complete)
    }
}
