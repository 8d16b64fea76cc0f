import Testing
import SluiceHTTP1

@Suite struct EncoderTests {
    @Test func errorResponseExactBytes() {
        let out = HTTP1Encoder.errorResponse(.contentLengthAndTransferEncoding, requestID: Array("req-1".utf8))
        let body = #"{"error":"bad_request","message":"both Content-Length and Transfer-Encoding","request_id":"req-1"}"#
        let expected = "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n"
            + "connection: close\r\nx-request-id: req-1\r\n\r\n" + body
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test func errorResponseEscapesJSON() {
        let out = HTTP1Encoder.errorResponse(status: 502, code: "bad_gateway", message: "say \"hi\" \\ now\n\t\u{1}é",
                                             requestID: Array("id\"\\\r\nx".utf8))
        let s = String(decoding: out, as: UTF8.self)
        let body = #"{"error":"bad_gateway","message":"say \"hi\" \\ now\n\t\u0001é","request_id":"id\"\\x"}"#
        #expect(s.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(s.contains("\r\nx-request-id: id\"\\x\r\n"))
        #expect(s.contains("content-length: \(body.utf8.count)\r\n"))
        #expect(s.hasSuffix("\r\n\r\n" + body))
    }

    @Test func errorResponseKeepAlive() {
        let s = String(decoding: HTTP1Encoder.errorResponse(status: 404, code: "not_found", message: "no route",
                                                            requestID: Array("r".utf8), keepAlive: true), as: UTF8.self)
        #expect(s.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(s.contains("\r\nconnection: keep-alive\r\n"))
    }

    @Test(arguments: [(400, "Bad Request"), (404, "Not Found"), (405, "Method Not Allowed"), (408, "Request Timeout"),
                      (413, "Content Too Large"), (414, "URI Too Long"), (417, "Expectation Failed"),
                      (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (501, "Not Implemented"),
                      (502, "Bad Gateway"), (503, "Service Unavailable"), (504, "Gateway Timeout"),
                      (505, "HTTP Version Not Supported")])
    func reasonPhrases(_ status: Int, _ reason: String) {
        #expect(HTTP1Encoder.reasonPhrase(for: status).description == reason)
    }

    @Test func decimalAndHex() {
        for v: UInt64 in [0, 1, 9, 10, 99, 100, 12345, 1_000_000, UInt64.max] {
            var out: [UInt8] = []
            HTTP1Encoder.appendDecimal(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
            out.removeAll()
            HTTP1Encoder.appendHex(v, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v, radix: 16))
        }
        var out: [UInt8] = []
        HTTP1Encoder.appendDecimal(-42, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "-42")
    }

    @Test func requestAndStatusLinesAndHeaders() {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        HTTP1Encoder.appendRequestLine(method: Array("GET".utf8), target: Array("/a?b".utf8), to: &out)
        HTTP1Encoder.appendHeader(name: "host", value: Array("example.com".utf8), to: &out)
        HTTP1Encoder.appendHeader(name: Array("X-A".utf8), value: Array("1".utf8), to: &out)
        HTTP1Encoder.appendHeader(name: "content-length", decimal: 42, to: &out)
        HTTP1Encoder.appendCRLF(to: &out)
        HTTP1Encoder.appendStatusLine(status: 200, to: &out)
        HTTP1Encoder.appendStatusLine(status: 299, reason: Array("Custom".utf8), versionMinor: 0, to: &out)
        #expect(String(decoding: out, as: UTF8.self) ==
            "GET /a?b HTTP/1.1\r\nhost: example.com\r\nX-A: 1\r\ncontent-length: 42\r\n\r\nHTTP/1.1 200 OK\r\nHTTP/1.0 299 Custom\r\n")
    }

    @Test func reencodesParsedFields() {
        let bytes = Array("GET / HTTP/1.1\r\nHost:  a  \r\nX-A:b\r\n\r\n".utf8)
        let (result, head) = parseRequest(bytes)
        #expect(result == .complete)
        var out: [UInt8] = []
        bytes.withUnsafeBytes { buf in
            for f in head.fields { HTTP1Encoder.appendField(buf, f, to: &out) }
        }
        #expect(String(decoding: out, as: UTF8.self) == "Host: a\r\nX-A: b\r\n")
    }
}
