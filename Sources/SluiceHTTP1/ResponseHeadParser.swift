/// An incremental, zero-copy HTTP/1.x response head parser for upstream responses (RFC 9112).
///
/// Same calling convention as `RequestHeadParser`: pass all bytes buffered so far for this response;
/// reset parser and head before the next one (including after a 1xx head, which parses as `.complete`
/// with framing `.none`). Every error is reported as 502 `bad_gateway` (see `HTTP1Error.asUpstream`).
///
/// Status line: `HTTP/1.0` or `HTTP/1.1`, SP, three digits 100-599, then SP and a reason phrase of
/// HTAB/SP/VCHAR/obs-text. A missing SP after the code with no reason (`HTTP/1.1 200`) is tolerated.
/// Framing: HEAD request, 1xx, 204, 304 -> `.none`; else Transfer-Encoding ending in chunked -> `.chunked`;
/// Transfer-Encoding not ending in chunked -> `.untilClose` (RFC 9112 §6.3); Content-Length -> `.contentLength`;
/// else `.untilClose`. Rejected: CL together with TE, differing CL values, invalid CL, `chunked` twice, TE on
/// HTTP/1.0, plus all field-line errors. Identical duplicate Content-Length fields are accepted.
public struct ResponseHeadParser: Sendable {
    /// The limits in force (`maxRequestLine` bounds the status line).
    public var limits: HTTP1Limits
    private var scanner = HeadScanner()
    private var versionMinor = 1
    private var status = 0
    private var reasonStart = 0
    private var reasonLength = 0
    private var headerStart = 0
    private var state = State.scanning

    private enum State: Sendable {
        case scanning, complete, failed(HTTP1Error)
    }

    /// Creates a parser with the given limits.
    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Prepares the parser for the next response.
    public mutating func reset() {
        scanner.reset()
        versionMinor = 1
        status = 0
        reasonStart = 0
        reasonLength = 0
        headerStart = 0
        state = .scanning
    }

    /// Parses `buf` (all bytes buffered so far for this response) into `head`. `requestWasHEAD` selects
    /// `.none` framing regardless of headers. `head` is meaningful only when the result is `.complete`.
    public mutating func parse(_ buf: UnsafeRawBufferPointer, requestWasHEAD: Bool, into head: inout ResponseHead) -> ParseResult {
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
                if let e = parseStatusLine(buf, start: start, end: end) { return fail(e) }
                headerStart = end &+ 2
            case .complete(let headLength):
                do throws(HTTP1Error) {
                    try fill(buf, headLength: headLength, requestWasHEAD: requestWasHEAD, into: &head)
                } catch {
                    return fail(error.asUpstream)
                }
                state = .complete
                return .complete
            case .failure(let f):
                switch f {
                case .bareCR: return fail(HTTP1Error.bareCR.asUpstream)
                case .bareLF: return fail(HTTP1Error.bareLF.asUpstream)
                case .startLineTooLong: return fail(HTTP1Error.invalidStatusLine)
                case .headerLineTooLong: return fail(HTTP1Error.headerLineTooLong.asUpstream)
                case .headTooLarge: return fail(HTTP1Error.headTooLarge.asUpstream)
                case .tooManyHeaders: return fail(HTTP1Error.tooManyHeaders.asUpstream)
                }
            }
        }
    }

    private mutating func fail(_ error: HTTP1Error) -> ParseResult {
        state = .failed(error)
        return .error(error)
    }

    /// Validates `buf[start ..< end]` as a status line, storing its parts; returns an error or nil.
    private mutating func parseStatusLine(_ buf: UnsafeRawBufferPointer, start: Int, end: Int) -> HTTP1Error? {
        guard end &- start >= 12,
              ASCII.equalsExact(buf, start, 7, "HTTP/1."),
              buf[start &+ 8] == ASCII.sp else { return .invalidStatusLine }
        let minor = buf[start &+ 7] &- 48
        guard minor <= 1 else { return .invalidStatusLine }
        let d0 = buf[start &+ 9] &- 48, d1 = buf[start &+ 10] &- 48, d2 = buf[start &+ 11] &- 48
        guard d0 >= 1, d0 <= 5, d1 < 10, d2 < 10 else { return .invalidStatusLine }
        var reason = start &+ 12
        if reason < end {
            guard buf[reason] == ASCII.sp else { return .invalidStatusLine }
            reason &+= 1
            for k in reason ..< end where !ASCII.isFieldValueChar(buf[k]) { return .invalidStatusLine }
        }
        versionMinor = Int(minor)
        status = Int(d0) &* 100 &+ Int(d1) &* 10 &+ Int(d2)
        reasonStart = reason
        reasonLength = end &- reason
        return nil
    }

    /// Validates the fields of a complete head and fills `head` (errors in request form; caller converts).
    private func fill(_ buf: UnsafeRawBufferPointer, headLength: Int, requestWasHEAD: Bool,
                      into head: inout ResponseHead) throws(HTTP1Error) {
        head.reset()
        head.headLength = headLength
        head.versionMinor = versionMinor
        head.status = status
        head.reasonStart = reasonStart
        head.reasonLength = reasonLength
        try FieldLines.parse(buf, from: headerStart, to: headLength &- 2, into: &head.fields)
        let facts = try FieldFacts.analyze(buf, head.fields, isRequest: false, connectionTokens: &head.connectionTokens)
        head.connectionListsOthers = facts.connectionListsOthers
        head.hopByHopMask = facts.hopByHopMask
        let http10 = versionMinor == 0

        if facts.transferEncodingCount > 0 {
            if facts.contentLengthCount > 0 { throw .contentLengthAndTransferEncoding }
            if http10 { throw .transferEncodingHTTP10 }
            if facts.chunkedCount > 1 { throw .chunkedTwice }
        }
        if facts.contentLengthConflict { throw .conflictingContentLength }

        if requestWasHEAD || status < 200 || status == 204 || status == 304 {
            head.framing = .none
        } else if facts.transferEncodingCount > 0 {
            head.framing = facts.lastCodingIsChunked ? .chunked : .untilClose
        } else if let length = facts.contentLength {
            head.framing = .contentLength(length)
        } else {
            head.framing = .untilClose
        }
        let reusable = http10 ? (facts.connectionKeepAlive && !facts.connectionClose) : !facts.connectionClose
        head.keepAlive = reusable && head.framing != .untilClose
    }
}
