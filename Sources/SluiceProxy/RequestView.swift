import Glibc
import SluiceHTTP1
import SluiceRouting

/// The routing view of one parsed HTTP/1 request: path, headers, query and cookies,
/// read straight out of the connection's input buffer (no copies).
struct RequestView: RequestAttributes {
    let buffer: UnsafeRawBufferPointer
    let fields: [FieldRange]
    let targetStart: Int
    let targetLength: Int
    let methodStart: Int
    let methodLength: Int
    /// The model the request names, when the proxy looked for one (`match.model` routes).
    var model: UnsafeRawBufferPointer?

    init(buffer: UnsafeRawBufferPointer, head: RequestHead, model: UnsafeRawBufferPointer? = nil) {
        self.buffer = buffer
        fields = head.fields
        targetStart = head.targetStart
        targetLength = head.targetLength
        methodStart = head.methodStart
        methodLength = head.methodLength
        self.model = model
    }

    /// The target's path and query as the backend gets them: origin-form as it is; absolute-form
    /// (`http://authority/path?query`, RFC 9112 §3.2.2) without its scheme and authority, the authority
    /// ending at the first `/`, `?` or `#`. What remains may be empty or start with `?`
    /// (`http://host?q=/x`): writers put a `/` in front (``ClientHead/leadingSlash``).
    var pathAndQuery: UnsafeRawBufferPointer {
        var start = targetStart
        let end = targetStart + targetLength
        if end > start, buffer[start] != UInt8(ascii: "/") && buffer[start] != UInt8(ascii: "*") {
            // absolute-form (the parser accepts only http:// and https://): skip "scheme://", then the authority.
            var i = start
            while i < end && buffer[i] != UInt8(ascii: ":") { i += 1 }
            i = min(i + 3, end)
            while i < end {
                let c = buffer[i]
                if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#") { break }
                i += 1
            }
            start = i
        }
        return UnsafeRawBufferPointer(rebasing: buffer[start..<end])
    }

    /// The path for routing (``routingPath(_:)``).
    var path: UnsafeRawBufferPointer { RequestView.routingPath(PathQuery.path(pathAndQuery)) }

    /// The path routing sees for a request's path, from either client protocol: `/` for an empty
    /// one (an HTTP/1.1 absolute-form target without a path) and for `*` (`OPTIONS *`, HTTP/1.1
    /// asterisk-form or HTTP/2 `:path: *`, which asks about the server, not a resource: it goes
    /// where `/` goes, and is forwarded as `*`).
    @inline(__always)
    static func routingPath(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        p.isEmpty || (p.count == 1 && p[p.startIndex] == UInt8(ascii: "*")) ? rootPath : p
    }

    /// `/`, for targets whose path is empty.
    static var rootPath: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: ("/" as StaticString).utf8Start, count: 1) }

    var rawQuery: UnsafeRawBufferPointer? { PathQuery.query(pathAndQuery) }

    var method: UnsafeRawBufferPointer? { UnsafeRawBufferPointer(rebasing: buffer[methodStart..<(methodStart + methodLength)]) }

    func header(_ lowercasedName: [UInt8]) -> UnsafeRawBufferPointer? {
        for f in fields where Int(f.nameLength) == lowercasedName.count {
            var equal = true
            var i = 0
            let base = Int(f.nameStart)
            while i < lowercasedName.count {
                var c = buffer[base + i]
                if c >= 65 && c <= 90 { c |= 0x20 }
                if c != lowercasedName[i] { equal = false; break }
                i += 1
            }
            if equal {
                return UnsafeRawBufferPointer(rebasing: buffer[Int(f.valueStart)..<Int(f.valueStart + f.valueLength)])
            }
        }
        return nil
    }
}

/// The x-forwarded-for value Sluice sends: every earlier hop's values in order, then the client.
enum ForwardedFor {
    static func value<Fields: Sequence<FieldRange>>(_ buffer: UnsafeRawBufferPointer, _ fields: Fields, client: [UInt8],
                                                     into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        for f in fields where f.valueLength > 0 && fieldNameEquals(buffer, f, "x-forwarded-for") {
            out.append(contentsOf: f.value(in: buffer))
            out.append(contentsOf: ", ".utf8)
        }
        out.append(contentsOf: client)
    }
}

/// Splits a request target's path from its query string (shared by the HTTP/1 and HTTP/2 views).
enum PathQuery {
    /// Offset of the first `?` in `pq`, or nil. memchr: the generic `firstIndex(of:)` on a raw
    /// buffer costs about 240 instructions per request in index and bounds checks.
    @inline(__always)
    static func questionMark(_ pq: UnsafeRawBufferPointer) -> Int? {
        guard let base = pq.baseAddress, !pq.isEmpty, let hit = memchr(base, Int32(UInt8(ascii: "?")), pq.count) else { return nil }
        return UnsafeRawPointer(hit) - base
    }

    /// The bytes before the first `?`.
    @inline(__always)
    static func path(_ pq: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let q = questionMark(pq) else { return pq }
        return UnsafeRawBufferPointer(start: pq.baseAddress, count: q)
    }

    /// The bytes after the first `?`, or nil.
    @inline(__always)
    static func query(_ pq: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let q = questionMark(pq) else { return nil }
        return UnsafeRawBufferPointer(start: pq.baseAddress! + q + 1, count: pq.count - q - 1)
    }
}
