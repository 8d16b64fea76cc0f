import SluiceHTTP1

/// Parses `bytes` as one request head in a single call.
func parseRequest(_ bytes: [UInt8], limits: HTTP1Limits = HTTP1Limits()) -> (ParseResult, RequestHead) {
    var parser = RequestHeadParser(limits: limits)
    var head = RequestHead()
    let result = bytes.withUnsafeBytes { parser.parse($0, into: &head) }
    return (result, head)
}

/// Parses a request head given as text.
func parseRequest(_ text: String, limits: HTTP1Limits = HTTP1Limits()) -> (ParseResult, RequestHead) {
    parseRequest(Array(text.utf8), limits: limits)
}

/// Feeds growing prefixes of `bytes` (first `split` bytes, then the rest one byte at a time if `byteWise`,
/// else all of it), returning the first non-incomplete result (or the final incomplete).
func parseRequestIncrementally(_ bytes: [UInt8], split: Int, byteWise: Bool,
                               limits: HTTP1Limits = HTTP1Limits()) -> (ParseResult, RequestHead) {
    var parser = RequestHeadParser(limits: limits)
    var head = RequestHead()
    var ends = [split]
    if byteWise { ends += Array(stride(from: split + 1, through: bytes.count, by: 1)) } else { ends.append(bytes.count) }
    var result = ParseResult.incomplete
    for end in ends {
        result = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[0 ..< end]), into: &head) }
        if result != .incomplete { break }
    }
    return (result, head)
}

/// Parses a response head given as text.
func parseResponse(_ text: String, requestWasHEAD: Bool = false,
                   limits: HTTP1Limits = HTTP1Limits()) -> (ParseResult, ResponseHead) {
    var parser = ResponseHeadParser(limits: limits)
    var head = ResponseHead()
    let bytes = Array(text.utf8)
    let result = bytes.withUnsafeBytes { parser.parse($0, requestWasHEAD: requestWasHEAD, into: &head) }
    return (result, head)
}

/// The text of `range` inside `bytes`.
func text(_ bytes: [UInt8], _ start: Int, _ length: Int) -> String {
    String(decoding: bytes[start ..< start + length], as: UTF8.self)
}

/// The name and value texts of all fields.
func fieldTexts(_ bytes: [UInt8], _ fields: [FieldRange]) -> [String] {
    fields.map { text(bytes, Int($0.nameStart), Int($0.nameLength)) + "=" + text(bytes, Int($0.valueStart), Int($0.valueLength)) }
}

/// Result of running a chunked decoder over a body fed in pieces.
struct ChunkedOutcome: Equatable {
    var consumed: Int
    var payload: [UInt8]
    var finished: Bool
    var error: HTTP1Error?
}

/// Decodes `body` fed as `body[0..<split]` then the rest, re-feeding unconsumed bytes like a real caller.
func decodeChunked(_ body: [UInt8], splits: [Int], decoder: ChunkedDecoder = ChunkedDecoder()) -> ChunkedOutcome {
    var decoder = decoder
    var outcome = ChunkedOutcome(consumed: 0, payload: [], finished: false, error: nil)
    var ranges: [Range<Int>] = []
    for end in splits + [body.count] where end >= outcome.consumed {
        let slice = Array(body[outcome.consumed ..< end])
        ranges.removeAll(keepingCapacity: true)
        do {
            let n = try slice.withUnsafeBytes { try decoder.consume($0, payload: &ranges) }
            for r in ranges { outcome.payload += slice[r] }
            outcome.consumed += n
        } catch {
            outcome.error = error as? HTTP1Error
            break
        }
        if decoder.isFinished { break }
    }
    outcome.finished = decoder.isFinished
    return outcome
}
