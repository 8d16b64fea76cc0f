/// The framing- and routing-relevant facts gathered from a head's fields in one pass.
///
/// `analyze` validates the syntax of the fields it recognises (Content-Length, Transfer-Encoding, Host,
/// Connection, Expect, Upgrade) and records what it found; the request and response parsers then apply
/// their own combination rules (e.g. CL + TE, missing Host). Errors use request statuses; the response
/// parser converts them with `HTTP1Error.asUpstream`.
struct FieldFacts {
    /// The Content-Length value, if any Content-Length field was present.
    var contentLength: UInt64? = nil
    /// Number of Content-Length fields.
    var contentLengthCount = 0
    /// Whether two Content-Length fields had different values.
    var contentLengthConflict = false
    /// Number of Transfer-Encoding fields.
    var transferEncodingCount = 0
    /// Number of non-empty transfer codings listed across all Transfer-Encoding fields.
    var codingCount = 0
    /// Number of times `chunked` was listed.
    var chunkedCount = 0
    /// Whether the final listed coding is `chunked`.
    var lastCodingIsChunked = false
    /// Index of the (first) Host field.
    var hostIndex: Int? = nil
    /// Number of Host fields.
    var hostCount = 0
    /// Whether Connection lists `close`.
    var connectionClose = false
    /// Whether Connection lists `keep-alive`.
    var connectionKeepAlive = false
    /// Whether an Expect field was present.
    var hasExpect = false
    /// Whether every Expect value was exactly `100-continue`.
    var expectOnlyContinue = true
    /// Whether an Upgrade field was present.
    var hasUpgrade = false
    /// Whether Upgrade lists h2c.
    var upgradeH2C = false
    /// Whether an HTTP2-Settings field was present.
    var hasHTTP2Settings = false
    /// Whether Connection lists a name that is not a fixed hop-by-hop name (see `HopByHop`).
    var connectionListsOthers = false
    /// Bit `i` set: field `i` (of the first 64) has a fixed hop-by-hop name (see `HopByHop`), so
    /// forwarding needs no name compare per field.
    var hopByHopMask: UInt64 = 0

    @inline(__always)
    mutating func markHopByHop(_ index: Int) {
        if index < 64 { hopByHopMask |= 1 &<< UInt64(index) }
    }

    /// Walks `fields` once, filling the facts and appending each Connection token to `connectionTokens`.
    /// `isRequest` enables validation of the Host value (responses carry no meaningful Host).
    static func analyze(_ buf: UnsafeRawBufferPointer, _ fields: [FieldRange], isRequest: Bool,
                        connectionTokens: inout [ByteRange]) throws(HTTP1Error) -> FieldFacts {
        // The loop only recognises names; each recognised field is handled out of line, so the
        // loop over the (mostly unrecognised) fields stays small and keeps its state in registers
        // (inlined, the list walks made it spill ~20 registers per field).
        var facts = FieldFacts()
        for index in fields.indices {
            let f = fields[index]
            let ns = Int(f.nameStart)
            switch f.nameLength {
            case 2 where ASCII.equalsLowercase(buf, ns, 2, "te"):
                facts.markHopByHop(index)
            case 4 where ASCII.equalsLowercase(buf, ns, 4, "host"):
                if facts.hostIndex == nil { facts.hostIndex = index }
                facts.hostCount &+= 1
                if isRequest { try validateHost(buf, f) }
            case 6 where ASCII.equalsLowercase(buf, ns, 6, "expect"):
                facts.expect(buf, f)
            case 7 where ASCII.equalsLowercase(buf, ns, 7, "upgrade"):
                facts.markHopByHop(index)
                facts.upgrade(buf, f)
            case 7 where ASCII.equalsLowercase(buf, ns, 7, "trailer"):
                facts.markHopByHop(index)
            case 10 where ASCII.equalsLowercase(buf, ns, 10, "connection"):
                facts.markHopByHop(index)
                try facts.connection(buf, f, &connectionTokens)
            case 10 where ASCII.equalsLowercase(buf, ns, 10, "keep-alive"):
                facts.markHopByHop(index)
            case 14 where ASCII.equalsLowercase(buf, ns, 14, "content-length"):
                let value = try parseContentLength(buf, f)
                if let previous = facts.contentLength, previous != value { facts.contentLengthConflict = true }
                facts.contentLength = value
                facts.contentLengthCount &+= 1
            case 14 where ASCII.equalsLowercase(buf, ns, 14, "http2-settings"):
                facts.markHopByHop(index)
                facts.hasHTTP2Settings = true
            case 16 where ASCII.equalsLowercase(buf, ns, 16, "proxy-connection"):
                facts.markHopByHop(index)
            case 17 where ASCII.equalsLowercase(buf, ns, 17, "transfer-encoding"):
                facts.markHopByHop(index)
                try facts.transferEncoding(buf, f)
            case 18 where ASCII.equalsLowercase(buf, ns, 18, "proxy-authenticate"):
                facts.markHopByHop(index)
            case 19 where ASCII.equalsLowercase(buf, ns, 19, "proxy-authorization"):
                facts.markHopByHop(index)
            default:
                break
            }
        }
        if facts.transferEncodingCount > 0 && facts.codingCount == 0 { throw .invalidTransferEncoding }
        return facts
    }

    @inline(never)
    private mutating func expect(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) {
        hasExpect = true
        var list = ListCursor(buf, field: f)
        while let e = list.next() {
            if !ASCII.equalsLowercase(buf, e.start, e.length, "100-continue") { expectOnlyContinue = false }
        }
    }

    @inline(never)
    private mutating func upgrade(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) {
        hasUpgrade = true
        var list = ListCursor(buf, field: f)
        while let e = list.next() {
            if e.length >= 3 && ASCII.equalsLowercase(buf, e.start, 3, "h2c") && (e.length == 3 || buf[e.start + 3] == 0x2F) {
                upgradeH2C = true
            }
        }
    }

    @inline(never)
    private mutating func connection(_ buf: UnsafeRawBufferPointer, _ f: FieldRange,
                                     _ connectionTokens: inout [ByteRange]) throws(HTTP1Error) {
        // `Connection: keep-alive`, nearly every keep-alive response: one word compare, no list walk.
        if f.valueLength == 10 && ASCII.equalsLowercase(buf, Int(f.valueStart), 10, "keep-alive") {
            connectionKeepAlive = true
            connectionTokens.append(ByteRange(start: f.valueStart, length: 10))
            return
        }
        var list = ListCursor(buf, field: f)
        while let e = list.next() {
            if e.length == 0 { continue }
            for k in e.start ..< e.start + e.length where !ASCII.isTokenChar(buf[k]) { throw .invalidConnection }
            if ASCII.equalsLowercase(buf, e.start, e.length, "close") { connectionClose = true }
            else if ASCII.equalsLowercase(buf, e.start, e.length, "keep-alive") { connectionKeepAlive = true }
            else if ASCII.equalsLowercase(buf, e.start, e.length, "content-length")
                || ASCII.equalsLowercase(buf, e.start, e.length, "host") { throw .connectionListsEndToEnd }
            connectionTokens.append(ByteRange(start: Int32(truncatingIfNeeded: e.start), length: Int32(truncatingIfNeeded: e.length)))
            if !connectionListsOthers
                && !HopByHop.isHopByHop(UnsafeRawBufferPointer(rebasing: buf[e.start ..< e.start &+ e.length])) {
                connectionListsOthers = true
            }
        }
    }

    @inline(never)
    private mutating func transferEncoding(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) throws(HTTP1Error) {
        transferEncodingCount &+= 1
        var list = ListCursor(buf, field: f)
        while let e = list.next() {
            if e.length == 0 { continue }
            if !ASCII.isTokenChar(buf[e.start]) { throw .invalidTransferEncoding }
            codingCount &+= 1
            lastCodingIsChunked = ASCII.equalsLowercase(buf, e.start, e.length, "chunked")
            if lastCodingIsChunked { chunkedCount &+= 1 }
        }
    }

    /// Parses a Content-Length value: one or more ASCII digits only (lists such as `3, 3` are rejected).
    static func parseContentLength(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) throws(HTTP1Error) -> UInt64 {
        let start = Int(f.valueStart), end = start + Int(f.valueLength)
        guard start < end else { throw .invalidContentLength }
        var value: UInt64 = 0
        for k in start ..< end {
            let d = buf[k] &- 48
            guard d < 10 else { throw .invalidContentLength }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { throw .contentLengthOverflow }
            value = s
        }
        return value
    }

    /// Checks a Host value contains only characters of `uri-host [ ":" port ]`: unreserved, sub-delims,
    /// `:`, `[`, `]` and `%` (pct-encoding / IPv6 zone). An empty value is allowed (RFC 9112 §3.2).
    static func validateHost(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) throws(HTTP1Error) {
        let start = Int(f.valueStart)
        for k in start ..< start &+ Int(f.valueLength) {
            // One bit per allowed byte below 128 (two words): a shift and a test per byte where the
            // range `switch` took about a dozen instructions.
            let b = buf[k]
            let word = b < 64 ? hostLow : hostHigh
            guard b < 128, (word &>> UInt64(b & 63)) & 1 != 0 else { throw .invalidHost }
        }
    }

    /// The bytes of `uri-host [ ":" port ]` as bitmaps of 0..<64 and 64..<128: ALPHA, DIGIT,
    /// `- . _ ~`, sub-delims `! $ & ' ( ) * + , ; =`, and `: [ ] %`.
    /// (Literals: a computed global would be initialised lazily, a check on every read; the
    /// test `hostBitmapsMatchTheGrammar` rebuilds them from the lists above.)
    static let hostLow: UInt64 = 0x2fff_7ff2_0000_0000
    static let hostHigh: UInt64 = 0x47ff_fffe_afff_fffe
}
