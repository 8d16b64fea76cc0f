import Testing
import SluiceHTTP1

let incrementalSamples: [String] = [
    "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
    "\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: keep-alive, x-a\r\nX-A: 1\r\n\r\n",
    "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/3.0\r\nHost: a\r\n\r\n",
]

@Suite struct IncrementalTests {
    @Test(arguments: incrementalSamples)
    func sameResultAtEverySplit(_ raw: String) {
        let bytes = Array(raw.utf8)
        let (expected, expectedHead) = parseRequest(bytes)
        #expect(expected != .incomplete)
        for split in 0 ... bytes.count {
            let (r, head) = parseRequestIncrementally(bytes, split: split, byteWise: false)
            #expect(r == expected, "split \(split)")
            if expected == .complete { #expect(head == expectedHead, "split \(split)") }
        }
        let (r, head) = parseRequestIncrementally(bytes, split: 0, byteWise: true)
        #expect(r == expected)
        if expected == .complete { #expect(head == expectedHead) }
    }

    @Test func limitErrorsAtEverySplit() {
        let limits = HTTP1Limits(maxRequestLine: 40, maxHeaderLine: 20, maxHeadBytes: 200, maxHeaderCount: 4)
        let samples = [
            "GET /" + String(repeating: "a", count: 60) + " HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + String(repeating: "b", count: 30) + "\r\n\r\n",
            "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
        ]
        for raw in samples {
            let bytes = Array(raw.utf8)
            let (expected, _) = parseRequest(bytes, limits: limits)
            if case .error = expected {} else { Issue.record("expected an error for \(raw)") }
            for split in 0 ... bytes.count {
                #expect(parseRequestIncrementally(bytes, split: split, byteWise: false, limits: limits).0 == expected)
            }
            #expect(parseRequestIncrementally(bytes, split: 0, byteWise: true, limits: limits).0 == expected)
        }
    }

    @Test func everyProperPrefixIsIncomplete() {
        let bytes = Array(incrementalSamples[0].utf8)
        for end in 0 ..< bytes.count {
            #expect(parseRequest(Array(bytes[0 ..< end])).0 == .incomplete, "prefix \(end)")
        }
    }
}
