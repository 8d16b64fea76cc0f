/// A streaming validator/decoder for the chunked transfer coding (RFC 9112 §7.1), built for pass-through
/// forwarding: it tells the caller how many bytes are valid framing + payload (safe to forward verbatim)
/// and, optionally, where the payload bytes are.
///
/// Usage: call `consume` with the unconsumed bytes (offset 0 = first byte not yet consumed). It consumes
/// everything it can validate; bytes it did not consume (a partial chunk-size line is consumed byte by
/// byte, so only bytes after the end of the message are ever left over) must be passed again with more
/// data. When the final CRLF after the trailer section is consumed, `isFinished` becomes true and no
/// further bytes are consumed, so a pipelined next message is left untouched.
///
/// Accepted grammar: `chunk-size = 1*16HEXDIG`; extensions `*( BWS ";" BWS name [ BWS "=" BWS ( token /
/// quoted-string ) ] )`; data followed by CRLF; last chunk `0` then trailer field lines `name ":" value`
/// (validated like header fields, obs-fold rejected) and a final CRLF. Bare CR/LF anywhere in framing is
/// rejected. Errors are thrown with request statuses (400/431); set `isResponse` to get 502 `bad_gateway`.
public struct ChunkedDecoder: Sendable {
    private enum State: UInt8, Sendable {
        case sizeStart, size, sizeBWS, extBeforeName, extName, extAfterName, extBeforeValue, extToken,
             extQuoted, extQuotedEscape, extAfterValue, sizeLF, data, dataCR, dataLF,
             trailerLineStart, trailerName, trailerValue, trailerLF, finalLF, finished
    }

    /// Largest trailer section in bytes (including the final CRLF).
    public let maxTrailerBytes: Int
    /// Longest chunk-size line (size plus extensions) in bytes, excluding its CRLF.
    public let maxLineBytes: Int
    /// Whether errors are reported as upstream (502) errors.
    public let isResponse: Bool

    private var state = State.sizeStart
    private var chunkSize: UInt64 = 0
    private var sizeDigits = 0
    private var lineBytes = 0
    private var trailerBytes = 0

    /// Creates a decoder. `maxLineBytes` bounds each chunk-size line (extensions included);
    /// `isResponse` makes errors 502 `bad_gateway` instead of 400/431.
    public init(maxTrailerBytes: Int = 8192, maxLineBytes: Int = 4096, isResponse: Bool = false) {
        self.maxTrailerBytes = maxTrailerBytes
        self.maxLineBytes = maxLineBytes
        self.isResponse = isResponse
    }

    /// Prepares the decoder for the next message body.
    public mutating func reset() {
        state = .sizeStart
        chunkSize = 0
        sizeDigits = 0
        lineBytes = 0
        trailerBytes = 0
    }

    /// Whether the whole chunked body, including trailers and the final CRLF, has been consumed.
    public var isFinished: Bool { state == .finished }

    /// Payload bytes still expected in the current chunk (0 outside chunk data).
    public var remainingInChunk: UInt64 { state == .data ? chunkSize : 0 }

    /// Validates and consumes a prefix of `buf`; returns the number of bytes consumed.
    public mutating func consume(_ buf: UnsafeRawBufferPointer) throws(HTTP1Error) -> Int {
        var unused: [Range<Int>] = []
        return try run(buf, payload: &unused, collect: false)
    }

    /// Like `consume(_:)`, and also appends to `payload` the ranges of `buf` (within the consumed prefix)
    /// that hold decoded payload bytes, in order. `payload` is not cleared; clear it with
    /// `removeAll(keepingCapacity: true)` to avoid allocation.
    public mutating func consume(_ buf: UnsafeRawBufferPointer, payload: inout [Range<Int>]) throws(HTTP1Error) -> Int {
        try run(buf, payload: &payload, collect: true)
    }

    private func failure(_ e: HTTP1Error) -> HTTP1Error { isResponse ? e.asUpstream : e }

    @inline(__always)
    private mutating func run(_ buf: UnsafeRawBufferPointer, payload: inout [Range<Int>], collect: Bool) throws(HTTP1Error) -> Int {
        let n = buf.count
        var i = 0
        while i < n {
            if state == .finished { return i }
            if state == .data {
                let take = Int(min(UInt64(n &- i), chunkSize))
                if collect && take > 0 { payload.append(i ..< i &+ take) }
                i &+= take
                chunkSize &-= UInt64(take)
                if chunkSize == 0 { state = .dataCR }
                continue
            }
            try step(buf[i])
            i &+= 1
        }
        return i
    }

    /// Advances the framing state machine by one byte (any state except `.data` and `.finished`).
    private mutating func step(_ b: UInt8) throws(HTTP1Error) {
        switch state {
        case .sizeStart, .size, .sizeBWS, .extBeforeName, .extName, .extAfterName, .extBeforeValue, .extToken,
             .extQuoted, .extQuotedEscape, .extAfterValue:
            if b == ASCII.lf { throw failure(.invalidChunkLineEnding) }
            lineBytes &+= 1
            if lineBytes > maxLineBytes && b != ASCII.cr { throw failure(.chunkLineTooLong) }
            try stepSizeLine(b)
        case .sizeLF:
            guard b == ASCII.lf else { throw failure(.invalidChunkLineEnding) }
            lineBytes = 0
            state = chunkSize == 0 ? .trailerLineStart : .data
            sizeDigits = 0
        case .dataCR:
            guard b == ASCII.cr else { throw failure(.missingChunkCRLF) }
            state = .dataLF
        case .dataLF:
            guard b == ASCII.lf else { throw failure(.missingChunkCRLF) }
            state = .sizeStart
        case .trailerLineStart, .trailerName, .trailerValue, .trailerLF, .finalLF:
            trailerBytes &+= 1
            if trailerBytes > maxTrailerBytes { throw failure(.trailersTooLarge) }
            try stepTrailer(b)
        case .data, .finished:
            break
        }
    }

    /// The chunk-size line: size digits, optional extensions, CR.
    private mutating func stepSizeLine(_ b: UInt8) throws(HTTP1Error) {
        let isWS = ASCII.isOWS(b)
        switch state {
        case .sizeStart, .size:
            if let v = ASCII.hexValue(b) {
                sizeDigits &+= 1
                if sizeDigits > 16 { throw failure(.chunkSizeOverflow) }
                chunkSize = chunkSize << 4 | v
                state = .size
                return
            }
            guard state == .size else { throw failure(.invalidChunkSize) }
            if b == ASCII.cr { state = .sizeLF }
            else if b == ASCII.semicolon { state = .extBeforeName }
            else if isWS { state = .sizeBWS }
            else { throw failure(.invalidChunkSize) }
        case .sizeBWS, .extAfterName, .extAfterValue:
            if isWS { return }
            if b == ASCII.semicolon { state = .extBeforeName }
            else if b == ASCII.cr && state != .sizeBWS { state = .sizeLF }
            else if b == 0x3D && state == .extAfterName { state = .extBeforeValue }
            else { throw failure(.invalidChunkExtension) }
        case .extBeforeName:
            if isWS { return }
            guard ASCII.isTokenChar(b) else { throw failure(.invalidChunkExtension) }
            state = .extName
        case .extName, .extToken:
            if ASCII.isTokenChar(b) { return }
            if b == ASCII.cr { state = .sizeLF }
            else if b == ASCII.semicolon { state = .extBeforeName }
            else if isWS { state = state == .extName ? .extAfterName : .extAfterValue }
            else if b == 0x3D && state == .extName { state = .extBeforeValue }
            else { throw failure(.invalidChunkExtension) }
        case .extBeforeValue:
            if isWS { return }
            if b == 0x22 { state = .extQuoted }
            else if ASCII.isTokenChar(b) { state = .extToken }
            else { throw failure(.invalidChunkExtension) }
        case .extQuoted:
            if b == 0x22 { state = .extAfterValue }
            else if b == 0x5C { state = .extQuotedEscape }
            else if !ASCII.isFieldValueChar(b) { throw failure(.invalidChunkExtension) }
        case .extQuotedEscape:
            guard ASCII.isFieldValueChar(b) else { throw failure(.invalidChunkExtension) }
            state = .extQuoted
        default:
            break
        }
    }

    /// Trailer field lines and the final CRLF.
    private mutating func stepTrailer(_ b: UInt8) throws(HTTP1Error) {
        if b == ASCII.lf && state != .trailerLF && state != .finalLF { throw failure(.invalidChunkLineEnding) }
        switch state {
        case .trailerLineStart:
            if b == ASCII.cr { state = .finalLF }
            else if ASCII.isTokenChar(b) { state = .trailerName }
            else { throw failure(.invalidTrailer) }
        case .trailerName:
            if b == ASCII.colon { state = .trailerValue }
            else if !ASCII.isTokenChar(b) { throw failure(.invalidTrailer) }
        case .trailerValue:
            if b == ASCII.cr { state = .trailerLF }
            else if !ASCII.isFieldValueChar(b) { throw failure(.invalidTrailer) }
        case .trailerLF:
            guard b == ASCII.lf else { throw failure(.invalidChunkLineEnding) }
            state = .trailerLineStart
        case .finalLF:
            guard b == ASCII.lf else { throw failure(.invalidChunkLineEnding) }
            state = .finished
        default:
            break
        }
    }
}
