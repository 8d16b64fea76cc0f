/// An incremental, zero-copy HTTP/1.x request head parser (RFC 9112), strict enough to stop request
/// smuggling and header-injection tricks before they reach an upstream.
///
/// Usage: keep one parser and one `RequestHead` per connection. Call `parse` with all bytes buffered so
/// far for the current request (offsets are relative to `buf.baseAddress`, and the bytes already seen
/// must not change between calls). It scans only new bytes for the end of the head. On `.complete`,
/// the body (or next pipelined request) starts at `head.headLength`; call `reset()` on both before
/// parsing the next request. After `.error` the parser keeps returning that error until reset.
///
/// Limit errors (414/431) are returned as soon as the buffered bytes prove them; the request line is
/// validated as soon as it is complete; everything else is validated once the head is complete.
public struct RequestHeadParser: Sendable {
    /// The limits in force.
    public var limits: HTTP1Limits
    private var scanner = HeadScanner()
    private var line = RequestLine()
    private var headerStart = 0
    private var state = State.scanning

    private enum State: Sendable {
        case scanning, complete, failed(HTTP1Error)
    }

    /// Creates a parser with the given limits.
    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Prepares the parser for the next request.
    public mutating func reset() {
        scanner.reset()
        line = RequestLine()
        headerStart = 0
        state = .scanning
    }

    /// Parses `buf` (all bytes buffered so far for this request) into `head`.
    ///
    /// `head` is meaningful only when the result is `.complete` (it is reset when the head is complete).
    public mutating func parse(_ buf: UnsafeRawBufferPointer, into head: inout RequestHead) -> ParseResult {
        switch state {
        case .complete: return .complete
        case .failed(let e): return .error(e)
        case .scanning: break
        }
        while true {
            switch scanner.scan(buf, limits) {
            case .incomplete:
                return .incomplete
            case .startLine(let start, let end):
                do throws(HTTP1Error) {
                    line = try RequestLine.parse(buf, start: start, end: end)
                } catch {
                    return fail(error)
                }
                headerStart = end &+ 2
            case .complete(let headLength):
                do throws(HTTP1Error) {
                    try fill(buf, headLength: headLength, into: &head)
                } catch {
                    return fail(error)
                }
                state = .complete
                return .complete
            case .failure(let f):
                switch f {
                case .bareCR: return fail(.bareCR)
                case .bareLF: return fail(.bareLF)
                case .startLineTooLong: return fail(.requestLineTooLong)
                case .headerLineTooLong: return fail(.headerLineTooLong)
                case .headTooLarge: return fail(.headTooLarge)
                case .tooManyHeaders: return fail(.tooManyHeaders)
                }
            }
        }
    }

    private mutating func fail(_ error: HTTP1Error) -> ParseResult {
        state = .failed(error)
        return .error(error)
    }

    /// Validates the fields of a complete head and fills `head`.
    private func fill(_ buf: UnsafeRawBufferPointer, headLength: Int, into head: inout RequestHead) throws(HTTP1Error) {
        head.reset()
        head.headLength = headLength
        head.methodStart = line.methodStart
        head.methodLength = line.methodLength
        head.targetStart = line.targetStart
        head.targetLength = line.targetLength
        head.versionMinor = line.versionMinor
        head.isHEAD = line.isHEAD
        try FieldLines.parse(buf, from: headerStart, to: headLength &- 2, into: &head.fields)
        let facts = try FieldFacts.analyze(buf, head.fields, isRequest: true, connectionTokens: &head.connectionTokens)
        head.connectionListsOthers = facts.connectionListsOthers
        head.hopByHopMask = facts.hopByHopMask
        let http10 = line.versionMinor == 0

        // Framing (RFC 9112 §6.1-6.3), rejecting every ambiguity a downstream parser could read differently.
        if facts.transferEncodingCount > 0 {
            if facts.contentLengthCount > 0 { throw .contentLengthAndTransferEncoding }
            if http10 { throw .transferEncodingHTTP10 }
            if facts.chunkedCount > 1 { throw .chunkedTwice }
            if !facts.lastCodingIsChunked { throw .transferEncodingNotChunked }
            if facts.codingCount > 1 { throw .unsupportedTransferCoding }
            head.framing = .chunked
        } else if let length = facts.contentLength {
            if facts.contentLengthConflict { throw .conflictingContentLength }
            if facts.contentLengthCount > 1 { throw .duplicateContentLength }
            head.framing = .contentLength(length)
        }

        if facts.hostCount > 1 { throw .multipleHost }
        if facts.hostCount == 0 && !http10 { throw .missingHost }
        head.hostIndex = facts.hostIndex

        // `Upgrade: h2c` + `HTTP2-Settings` (what `curl --http2 http://…` sends) is not refused and
        // not followed: both are hop-by-hop (as are the Connection tokens naming them), so the
        // request is served over HTTP/1.1 and neither ever reaches a backend (no h2c smuggling).
        head.hasUpgrade = facts.hasUpgrade

        if facts.hasExpect && !http10 {
            if !facts.expectOnlyContinue { throw .expectationFailed }
            head.expectContinue = true
        }
        head.keepAlive = http10 ? (facts.connectionKeepAlive && !facts.connectionClose) : !facts.connectionClose
    }
}
