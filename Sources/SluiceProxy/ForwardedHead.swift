import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceRouting

/// The client's request head as the forwarding rules see it, whichever protocol it came in:
/// byte ranges into one buffer (the HTTP/1.1 connection's input, or the HTTP/2 stream's header
/// storage), nothing copied.
struct ClientHead {
    let buffer: UnsafeRawBufferPointer
    let method: UnsafeRawBufferPointer
    /// Path and query, as forwarded.
    let target: UnsafeRawBufferPointer
    /// The target lacks its leading `/` (an absolute-form HTTP/1.1 target with an empty path).
    let leadingSlash: Bool
    /// `host` of an HTTP/1.1 request or `:authority` of an HTTP/2 one (empty: none).
    let authority: UnsafeRawBufferPointer
    /// Field names an HTTP/1.1 client listed in `Connection` (hop-by-hop for this request only).
    let connectionTokens: [ByteRange]
    /// The client connected over TLS (`x-forwarded-proto: https`, `:scheme: https`).
    let isTLS: Bool
    let requestID: [UInt8]
    /// Sluice generated `requestID` (the client sent none usable): it replaces any the client sent.
    let requestIDGenerated: Bool
    /// The client's address, appended to `x-forwarded-for`.
    let peerIP: [UInt8]
    /// The fields are lines of HTTP/1.1 text (`name: value`, validated), not an HTTP/2 header block
    /// (whose names are lowercase by the protocol).
    let fieldsAreText: Bool
    /// For an HTTP/1.1 head: which of its first 64 fields have fixed hop-by-hop names, as the
    /// parser found them (no name compare per field); 0 for HTTP/2 (names are compared).
    let hopByHopMask: UInt64
}

extension RequestHead {
    /// An HTTP/1.1 request head (parsed from `buffer`) as the forwarding rules see it: `host` is
    /// the authority, an absolute-form target is forwarded as its path and query.
    @inline(__always)
    func clientHead(_ buffer: UnsafeRawBufferPointer, isTLS: Bool, requestID: [UInt8], requestIDGenerated: Bool,
                    peerIP: [UInt8]) -> ClientHead {
        let target = RequestView(buffer: buffer, head: self).pathAndQuery
        var authority = UnsafeRawBufferPointer(start: nil, count: 0)
        if let i = hostIndex { authority = fields[i].value(in: buffer) }
        return ClientHead(buffer: buffer, method: method(in: buffer), target: target,
                          // `*` (asterisk-form, OPTIONS) is forwarded as it is.
                          leadingSlash: target.isEmpty || (target[target.startIndex] != UInt8(ascii: "/")
                                                           && !(target.count == 1 && target[target.startIndex] == UInt8(ascii: "*"))),
                          // Tokens that are fixed hop-by-hop names (`keep-alive`, `close`) add nothing to drop.
                          authority: authority, connectionTokens: connectionListsOthers ? connectionTokens : [], isTLS: isTLS,
                          requestID: requestID, requestIDGenerated: requestIDGenerated, peerIP: peerIP, fieldsAreText: true,
                          hopByHopMask: hopByHopMask)
    }
}

extension H2RequestHeaders {
    /// An HTTP/2 request's header block as the forwarding rules see it: `:authority`, or the
    /// `host` field when the client sent no `:authority`, is the authority.
    func clientHead(isTLS: Bool, requestID: [UInt8], requestIDGenerated: Bool, peerIP: [UInt8]) -> ClientHead {
        let buf = bytes
        var authority = UnsafeRawBufferPointer(rebasing: buf[self.authority])
        if authority.isEmpty {
            for f in fields where f.nameLength == 4 && fieldNameEquals(buf, f, "host") {
                authority = f.value(in: buf)
                break
            }
        }
        return ClientHead(buffer: buf, method: UnsafeRawBufferPointer(rebasing: buf[method]),
                          target: UnsafeRawBufferPointer(rebasing: buf[pathRange]), leadingSlash: false,
                          authority: authority, connectionTokens: [], isTLS: isTLS, requestID: requestID,
                          requestIDGenerated: requestIDGenerated, peerIP: peerIP, fieldsAreText: false, hopByHopMask: 0)
    }
}

/// A field name Sluice writes itself, both ways: bare for an HTTP/2 header block, and with its
/// `: ` for an HTTP/1.1 line (one copy instead of two).
struct FieldName {
    let bare: StaticString
    let line: StaticString

    static let te = FieldName(bare: "te", line: "te: ")
    static let forwardedFor = FieldName(bare: "x-forwarded-for", line: "x-forwarded-for: ")
    static let requestID = FieldName(bare: "x-request-id", line: "x-request-id: ")
    static let sluiceTarget = FieldName(bare: "x-sluice-target", line: "x-sluice-target: ")
    static let modelVersion = FieldName(bare: "x-model-version", line: "x-model-version: ")
}

/// Where a forwarded request head is written: an HTTP/1.1 request (``HTTP1Head``) or an HTTP/2
/// header block (``HTTP2Head``).
protocol ForwardedHeadFormat {
    associatedtype Output
    /// An HTTP/2 backend takes `te: trailers` (gRPC needs it), the one hop-by-hop field HTTP/2 allows.
    static var keepsTrailersTE: Bool { get }
    /// The request line (or pseudo-headers) and the host.
    static func begin(_ out: inout Output, _ head: ClientHead)
    /// A field received as a line of HTTP/1.1 text (any case; `name:` OWS `value`, validated).
    static func textLine(_ out: inout Output, _ buf: UnsafeRawBufferPointer, _ f: FieldRange)
    /// A field of an HTTP/2 client's header block (lowercase name; stored by ``H2RequestHeaders`` as
    /// the line `name: value\r\n` unless its value was rebuilt, as joined cookies are).
    static func blockField(_ out: inout Output, _ buf: UnsafeRawBufferPointer, _ f: FieldRange)
    static func field(_ out: inout Output, _ name: FieldName, value: UnsafeRawBufferPointer)
    /// `x-forwarded-proto` (`https` when the client came over TLS).
    static func forwardedProto(_ out: inout Output, isTLS: Bool)
    /// `x-forwarded-for`: every earlier hop's values, in order, then the client's address.
    static func forwardedFor(_ out: inout Output, _ head: ClientHead, fields: UnsafeBufferPointer<FieldRange>)
    /// The end of the head; `chunked`: the body is re-framed as chunked (HTTP/1.1 only).
    static func end(_ out: inout Output, chunked: Bool)
}

/// The one place a forwarded request head is built, for every protocol pair and for shadow copies:
/// hop-by-hop fields (and those the client named in `Connection`) dropped, `host`/`:authority` from
/// the client's authority, `expect` dropped (Sluice answers `100 Continue` itself), the fields only
/// Sluice sets (``ForwardedFields``) replaced: `x-forwarded-for` appended to, `x-forwarded-proto` and
/// `:scheme` from the client's connection, `x-request-id` when Sluice generated it.
enum ForwardedHead {
    /// Writes the head for the backend. `shadow`: the copy's framing is left out (it is re-framed
    /// with `content-length` once its body is buffered).
    @inline(__always)
    static func write<Format: ForwardedHeadFormat>(_ format: Format.Type, _ head: ClientHead, fields: UnsafeBufferPointer<FieldRange>,
                                                   into out: inout Format.Output, chunked: Bool = false, shadow: Bool = false) {
        let buf = head.buffer
        Format.begin(&out, head)
        for i in 0..<fields.count {
            let f = fields[i]
            if isDropped(buf, f, head, index: i) {
                if Format.keepsTrailersTE && f.nameLength == 2 && fieldNameEquals(buf, f, "te")
                    && Bytes.equal(f.value(in: buf), "trailers") {
                    Format.field(&out, .te, value: f.value(in: buf))
                }
                continue
            }
            if shadow && f.nameLength == 14 && fieldNameEquals(buf, f, "content-length") { continue }
            if head.fieldsAreText {
                Format.textLine(&out, buf, f)
            } else {
                Format.blockField(&out, buf, f)
            }
        }
        Format.forwardedFor(&out, head, fields: fields)
        Format.forwardedProto(&out, isTLS: head.isTLS)
        if head.requestIDGenerated { head.requestID.withUnsafeBytes { Format.field(&out, .requestID, value: $0) } }
        if !shadow { Format.end(&out, chunked: chunked) }
    }

    /// Whether field `f` is not copied as the client sent it.
    @inline(__always)
    static func isDropped(_ buf: UnsafeRawBufferPointer, _ f: FieldRange, _ head: ClientHead, index: Int) -> Bool {
        switch f.nameLength {
        case 4: if fieldNameEquals(buf, f, "host") { return true }
        case 6: if fieldNameEquals(buf, f, "expect") { return true }
        default: break
        }
        if head.fieldsAreText && index < 64 {
            if (head.hopByHopMask &>> UInt64(index)) & 1 != 0 { return true }
        } else if HopByHop.isHopByHop(f.name(in: buf)) {
            return true
        }
        if !head.connectionTokens.isEmpty && isConnectionListed(buf, f, head.connectionTokens) { return true }
        return ForwardedFields.isSetBySluice(buf, f, requestIDGenerated: head.requestIDGenerated)
    }

    /// Whether `f`'s name is one the client listed in `Connection` (out of line: rare, and the
    /// per-field loop stays small).
    @inline(never)
    static func isConnectionListed(_ buf: UnsafeRawBufferPointer, _ f: FieldRange, _ tokens: [ByteRange]) -> Bool {
        ConnectionList.contains(tokens, buf, f)
    }

    @inline(__always)
    static func scheme(_ s: StaticString) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount) }

    /// Bytes of the `x-forwarded-for` value.
    @inline(__always)
    static func forwardedForLength(_ head: ClientHead, fields: UnsafeBufferPointer<FieldRange>) -> Int {
        var n = head.peerIP.count
        for f in fields where f.nameLength == 15 && f.valueLength > 0 && fieldNameEquals(head.buffer, f, "x-forwarded-for") {
            n += Int(f.valueLength) + 2
        }
        return n
    }
}

/// A forwarded head as an HTTP/1.1 request.
enum HTTP1Head: ForwardedHeadFormat {
    static var keepsTrailersTE: Bool { false }

    @inline(__always)
    static func begin(_ out: inout ByteQueue, _ head: ClientHead) {
        out.append(head.method)
        out.append(byte: 32)
        if head.leadingSlash { out.append(byte: UInt8(ascii: "/")) }
        out.append(head.target)
        if !head.authority.isEmpty {
            out.append(" HTTP/1.1\r\nhost: ")
            out.append(head.authority)
            out.append("\r\n")
        } else {
            out.append(" HTTP/1.1\r\n")
        }
    }

    /// The received line as it came (name, colon, whitespace, value): one copy instead of four.
    @inline(__always)
    static func textLine(_ out: inout ByteQueue, _ buf: UnsafeRawBufferPointer, _ f: FieldRange) {
        out.append(UnsafeRawBufferPointer(rebasing: buf[Int(f.nameStart)..<Int(f.valueStart + f.valueLength)]))
        out.append("\r\n")
    }

    /// The stored line in one copy when the value follows its name (every field but joined cookies).
    @inline(__always)
    static func blockField(_ out: inout ByteQueue, _ buf: UnsafeRawBufferPointer, _ f: FieldRange) {
        if f.valueStart == f.nameStart &+ f.nameLength &+ 2 {
            out.append(UnsafeRawBufferPointer(rebasing: buf[Int(f.nameStart)..<Int(f.valueStart + f.valueLength + 2)]))
            return
        }
        out.append(f.name(in: buf))
        out.append(": ")
        out.append(f.value(in: buf))
        out.append("\r\n")
    }

    @inline(__always)
    static func field(_ out: inout ByteQueue, _ name: FieldName, value: UnsafeRawBufferPointer) {
        out.append(name.line)
        out.append(value)
        out.append("\r\n")
    }

    @inline(__always)
    static func forwardedProto(_ out: inout ByteQueue, isTLS: Bool) {
        out.append(isTLS ? "x-forwarded-proto: https\r\n" : "x-forwarded-proto: http\r\n")
    }

    @inline(__always)
    static func forwardedFor(_ out: inout ByteQueue, _ head: ClientHead, fields: UnsafeBufferPointer<FieldRange>) {
        out.append(FieldName.forwardedFor.line)
        for f in fields where f.nameLength == 15 && f.valueLength > 0 && fieldNameEquals(head.buffer, f, "x-forwarded-for") {
            out.append(f.value(in: head.buffer))
            out.append(", ")
        }
        out.append(head.peerIP)
        out.append("\r\n")
    }

    @inline(__always)
    static func end(_ out: inout ByteQueue, chunked: Bool) {
        if chunked { out.append("transfer-encoding: chunked\r\n") }
        out.append("\r\n")
    }
}

/// A forwarded head as an HTTP/2 header block (names lowercased: HTTP/1.1 clients send any case).
enum HTTP2Head: ForwardedHeadFormat {
    static var keepsTrailersTE: Bool { true }

    @inline(__always)
    static func begin(_ out: inout H2HeaderBlock, _ head: ClientHead) {
        out.removeAll()
        out.append(name: ":method", value: head.method)
        out.append(name: ":scheme", value: head.isTLS ? ForwardedHead.scheme("https") : ForwardedHead.scheme("http"))
        if !head.authority.isEmpty { out.append(name: ":authority", value: head.authority) }
        if head.leadingSlash {
            withUnsafeTemporaryAllocation(byteCount: head.target.count + 1, alignment: 1) { path in
                path[0] = UInt8(ascii: "/")
                if !head.target.isEmpty { UnsafeMutableRawBufferPointer(rebasing: path[1...]).copyMemory(from: head.target) }
                out.append(name: ":path", value: UnsafeRawBufferPointer(path))
            }
        } else {
            out.append(name: ":path", value: head.target)
        }
    }

    /// HTTP/1.1 names may come in any case; HTTP/2 wants them lowercase.
    @inline(__always)
    static func textLine(_ out: inout H2HeaderBlock, _ buf: UnsafeRawBufferPointer, _ f: FieldRange) {
        out.appendLowercasingName(name: f.name(in: buf), value: f.value(in: buf))
    }

    @inline(__always)
    static func blockField(_ out: inout H2HeaderBlock, _ buf: UnsafeRawBufferPointer, _ f: FieldRange) {
        out.append(name: f.name(in: buf), value: f.value(in: buf))
    }

    @inline(__always)
    static func field(_ out: inout H2HeaderBlock, _ name: FieldName, value: UnsafeRawBufferPointer) {
        out.append(name: name.bare, value: value)
    }

    @inline(__always)
    static func forwardedProto(_ out: inout H2HeaderBlock, isTLS: Bool) {
        out.append(name: "x-forwarded-proto", value: isTLS ? ForwardedHead.scheme("https") : ForwardedHead.scheme("http"))
    }

    @inline(__always)
    static func forwardedFor(_ out: inout H2HeaderBlock, _ head: ClientHead, fields: UnsafeBufferPointer<FieldRange>) {
        // Built on the stack: one value, no scratch array.
        withUnsafeTemporaryAllocation(byteCount: ForwardedHead.forwardedForLength(head, fields: fields), alignment: 1) { value in
            var at = 0
            for f in fields where f.nameLength == 15 && f.valueLength > 0 && fieldNameEquals(head.buffer, f, "x-forwarded-for") {
                let v = f.value(in: head.buffer)
                UnsafeMutableRawBufferPointer(rebasing: value[at...]).copyMemory(from: v)
                at += v.count
                value[at] = UInt8(ascii: ",")
                value[at + 1] = 32
                at += 2
            }
            head.peerIP.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: value[at...]).copyMemory(from: $0) }
            out.append(name: FieldName.forwardedFor.bare, value: UnsafeRawBufferPointer(value))
        }
    }

    @inline(__always)
    static func end(_ out: inout H2HeaderBlock, chunked: Bool) {}
}

/// The one place a response head's fields are carried to the client, for both kinds of client.
enum ForwardedResponse {
    /// Copies an HTTP/1.1 backend's response fields (hop-by-hop ones dropped); returns whether the
    /// backend sent its own `x-request-id`.
    @inline(__always)
    /// `head` is inout only so a reader's head is used in place (a copy retains its arrays).
    static func copyFields<Format: ForwardedHeadFormat>(_ format: Format.Type, _ head: inout ResponseHead, _ buf: UnsafeRawBufferPointer,
                                                        into out: inout Format.Output) -> Bool {
        var sentRequestID = false
        for i in head.fields.indices {
            let f = head.fields[i]
            if head.isHopByHop(buf, f, at: i) { continue }
            if f.nameLength == 12 && fieldNameEquals(buf, f, "x-request-id") { sentRequestID = true }
            Format.textLine(&out, buf, f)
        }
        return sentRequestID
    }

    /// The fields Sluice adds to every response it forwards: `x-sluice-target` (the backend that
    /// answered), `x-model-version` when the backend has one configured, and `x-request-id` unless
    /// the backend sent its own.
    @inline(__always)
    static func addSluiceFields<Format: ForwardedHeadFormat>(_ format: Format.Type, into out: inout Format.Output,
                                                             snapshot: ProxySnapshot, backend: Int, requestID: [UInt8],
                                                             backendSentRequestID: Bool) {
        Format.field(&out, .sluiceTarget, value: snapshot.backendNames[backend])
        let version = snapshot.modelVersions[backend]
        if !version.isEmpty { Format.field(&out, .modelVersion, value: version) }
        if !backendSentRequestID { requestID.withUnsafeBytes { Format.field(&out, .requestID, value: $0) } }
    }
}
