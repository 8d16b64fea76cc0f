import Testing
import SluiceHTTP1

/// A valid chunked body and its decoded payload.
struct ChunkedSample: CustomTestStringConvertible, Sendable {
    var name: String
    var body: String
    var payload: String
    var testDescription: String { name }
}

let validChunked: [ChunkedSample] = [
    ChunkedSample(name: "simple", body: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", payload: "hello world"),
    ChunkedSample(name: "empty body", body: "0\r\n\r\n", payload: ""),
    ChunkedSample(name: "hex sizes", body: "A\r\n0123456789\r\n00000001\r\nx\r\n0\r\n\r\n", payload: "0123456789x"),
    ChunkedSample(name: "upper hex", body: "b\r\nhello world\r\n0\r\n\r\n", payload: "hello world"),
    ChunkedSample(name: "extensions", body: "5;a\r\nhello\r\n1 ; b = c ;d=\"q \\\" ;\"\r\n!\r\n0;last\r\n\r\n", payload: "hello!"),
    ChunkedSample(name: "trailers", body: "3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Empty:\r\n\r\n", payload: "abc"),
    ChunkedSample(name: "16 digit size", body: "0000000000000003\r\nabc\r\n0\r\n\r\n", payload: "abc"),
    ChunkedSample(name: "binary-ish payload", body: "4\r\n\r\n\r\n\r\n0\r\n\r\n", payload: "\r\n\r\n"),
]

/// An invalid chunked body and its expected error.
struct ChunkedFailure: CustomTestStringConvertible, Sendable {
    var name: String
    var body: String
    var error: HTTP1Error
    var testDescription: String { name }
}

let invalidChunked: [ChunkedFailure] = [
    ChunkedFailure(name: "non-hex size", body: "g\r\n", error: .invalidChunkSize),
    ChunkedFailure(name: "empty size", body: "\r\n", error: .invalidChunkSize),
    ChunkedFailure(name: "negative size", body: "-1\r\n", error: .invalidChunkSize),
    ChunkedFailure(name: "0x prefix", body: "0x5\r\n", error: .invalidChunkSize),
    ChunkedFailure(name: "17 digits", body: "00000000000000001\r\na\r\n0\r\n\r\n", error: .chunkSizeOverflow),
    ChunkedFailure(name: "size overflow", body: "10000000000000000\r\n", error: .chunkSizeOverflow),
    ChunkedFailure(name: "leading space", body: " 5\r\nhello\r\n0\r\n\r\n", error: .invalidChunkSize),
    ChunkedFailure(name: "space then CR", body: "5 \r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "ext empty name", body: "5;\r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "ext bad name", body: "5;a@b\r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "ext empty value", body: "5;a=\r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "ext unterminated quote", body: "5;a=\"x\r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "ext junk after quote", body: "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "ext NUL", body: "5;a=\"\u{0}\"\r\nhello\r\n0\r\n\r\n", error: .invalidChunkExtension),
    ChunkedFailure(name: "missing CRLF after data", body: "5\r\nhelloX\r\n0\r\n\r\n", error: .missingChunkCRLF),
    ChunkedFailure(name: "LF only after data", body: "5\r\nhello\n0\r\n\r\n", error: .missingChunkCRLF),
    ChunkedFailure(name: "CR only after data", body: "5\r\nhello\rX", error: .missingChunkCRLF),
    ChunkedFailure(name: "bare LF after size", body: "5\nhello\r\n0\r\n\r\n", error: .invalidChunkLineEnding),
    ChunkedFailure(name: "bare CR after size", body: "5\rhello\r\n0\r\n\r\n", error: .invalidChunkLineEnding),
    ChunkedFailure(name: "bare LF final", body: "0\r\n\n", error: .invalidChunkLineEnding),
    ChunkedFailure(name: "bare CR final", body: "0\r\n\rX", error: .invalidChunkLineEnding),
    ChunkedFailure(name: "trailer obs-fold", body: "0\r\nX-A: 1\r\n continued\r\n\r\n", error: .invalidTrailer),
    ChunkedFailure(name: "trailer no colon", body: "0\r\nX-A\r\n\r\n", error: .invalidTrailer),
    ChunkedFailure(name: "trailer space before colon", body: "0\r\nX-A : 1\r\n\r\n", error: .invalidTrailer),
    ChunkedFailure(name: "trailer bare LF", body: "0\r\nX-A: 1\n\r\n", error: .invalidChunkLineEnding),
    ChunkedFailure(name: "trailer CR without LF", body: "0\r\nX-A: 1\rX\r\n\r\n", error: .invalidChunkLineEnding),
    ChunkedFailure(name: "oversized trailers", body: "0\r\nX-A: " + String(repeating: "a", count: 100) + "\r\n\r\n", error: .trailersTooLarge),
    ChunkedFailure(name: "oversized size line", body: "5;" + String(repeating: "a", count: 100) + "\r\nhello\r\n0\r\n\r\n", error: .chunkLineTooLong),
]

@Suite struct ChunkedDecoderTests {
    static let decoder = ChunkedDecoder(maxTrailerBytes: 64, maxLineBytes: 64)

    @Test(arguments: validChunked)
    func decodesValidBodies(_ sample: ChunkedSample) {
        let body = Array(sample.body.utf8)
        let whole = decodeChunked(body, splits: [], decoder: Self.decoder)
        #expect(whole == ChunkedOutcome(consumed: body.count, payload: Array(sample.payload.utf8), finished: true, error: nil))
        for split in 0 ... body.count {
            #expect(decodeChunked(body, splits: [split], decoder: Self.decoder) == whole, "split \(split)")
        }
        #expect(decodeChunked(body, splits: Array(0 ... body.count), decoder: Self.decoder) == whole)
    }

    @Test(arguments: invalidChunked)
    func rejectsInvalidBodies(_ sample: ChunkedFailure) {
        let body = Array(sample.body.utf8)
        let whole = decodeChunked(body, splits: [], decoder: Self.decoder)
        #expect(whole.error == sample.error)
        for split in 0 ... body.count {
            #expect(decodeChunked(body, splits: [split], decoder: Self.decoder).error == sample.error, "split \(split)")
        }
    }

    @Test func stopsAtEndForPipelining() throws {
        let bytes = Array("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n".utf8)
        var decoder = ChunkedDecoder()
        let n = try bytes.withUnsafeBytes { try decoder.consume($0) }
        #expect(n == 13)
        #expect(decoder.isFinished)
        let again = try bytes.withUnsafeBytes { try decoder.consume(UnsafeRawBufferPointer(rebasing: $0[n...])) }
        #expect(again == 0)
    }

    @Test func partialDataIsConsumedAndTracked() throws {
        let bytes = Array("a\r\nhello".utf8)
        var decoder = ChunkedDecoder()
        var ranges: [Range<Int>] = []
        let n = try bytes.withUnsafeBytes { try decoder.consume($0, payload: &ranges) }
        #expect(n == bytes.count)
        #expect(ranges == [3 ..< 8])
        #expect(decoder.remainingInChunk == 5)
        #expect(!decoder.isFinished)
        decoder.reset()
        #expect(decoder.remainingInChunk == 0)
    }

    @Test func responseModeReportsBadGateway() {
        let outcome = decodeChunked(Array("zz\r\n".utf8), splits: [], decoder: ChunkedDecoder(isResponse: true))
        #expect(outcome.error == HTTP1Error.invalidChunkSize.asUpstream)
        #expect(outcome.error?.status == 502 && outcome.error?.code == "bad_gateway")
    }

    @Test func maxSizeChunkHeaderIsAccepted() throws {
        let bytes = Array("FFFFFFFFFFFFFFFF\r\nab".utf8)
        var decoder = ChunkedDecoder()
        let n = try bytes.withUnsafeBytes { try decoder.consume($0) }
        #expect(n == bytes.count)
        #expect(decoder.remainingInChunk == UInt64.max - 2)
    }
}
