import SluiceHTTP1
import SluiceRouting

/// The header block of one HTTP/2 request, copied out of nghttp2's callbacks into buffers
/// this object owns; pseudo-headers are kept apart. Serves as the routing view.
///
/// A class with raw storage rather than a struct of arrays: it lives inside its stream's
/// exchange for the exchange's whole life, and arrays stored in a class cost a uniqueness check
/// on every append and a retain/release whenever they are read. Storage is allocated once and
/// grows (rarely) by doubling; the session's header-list limits bound it. Buffers handed out
/// by `bytes`, `fields` and the `with…` methods are valid until the next `add` or `reset`.
final class H2RequestHeaders {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    private var fieldStorage: UnsafeMutablePointer<FieldRange>
    private var fieldCapacity: Int
    private var fieldCount = 0
    var method = 0..<0
    var pathRange = 0..<0
    var authority = 0..<0
    /// Declared content-length, if any.
    var contentLength: UInt64?
    /// Request came with `content-type: application/grpc...`.
    var isGRPC = false
    /// A malformed block (missing pseudo-headers, bad content-length).
    var malformed = false
    /// `cookie` fields seen (HTTP/2 clients may split the cookie into crumbs, RFC 9113 §8.2.3).
    private var cookieCount = 0

    init() {
        capacity = 1024
        storage = .allocate(byteCount: capacity, alignment: 8)
        fieldCapacity = 16
        fieldStorage = .allocate(capacity: fieldCapacity)
        fieldStorage.initialize(to: FieldRange(nameStart: 0, nameLength: 4, valueStart: 0, valueLength: 0))
        // "host" stays at the start of storage for good: slot 0 names it (see `routingFields`).
        storage.copyMemory(from: H2RequestHeaders.hostName.utf8Start, byteCount: 4)
        used = H2RequestHeaders.hostLength
    }

    deinit {
        storage.deallocate()
        fieldStorage.deallocate()
    }

    /// The copied names and values.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: used) }

    /// Regular fields (names are lowercase in HTTP/2), as ranges into `bytes`. Slot 0 of the
    /// storage is kept for the `host` field routing sees (see ``routingFields``).
    var fields: UnsafeBufferPointer<FieldRange> { UnsafeBufferPointer(start: fieldStorage + 1, count: fieldCount) }

    /// What routing sees: `:authority` as a `host` field first (so it wins over a `host` field the
    /// client may also have sent), then the regular fields. Kept in the field list rather than
    /// as a property of ``View``: a larger view costs a copy of each Route while routing.
    @inline(__always)
    var routingFields: UnsafeBufferPointer<FieldRange> {
        authority.isEmpty ? fields : UnsafeBufferPointer(start: fieldStorage, count: fieldCount + 1)
    }

    func reset() {
        used = H2RequestHeaders.hostLength
        fieldCount = 0
        method = 0..<0
        pathRange = 0..<0
        authority = 0..<0
        contentLength = nil
        isGRPC = false
        malformed = false
        cookieCount = 0
    }

    private func store(_ b: UnsafeRawBufferPointer) -> Range<Int> {
        let start = used
        reserve(b.count)
        if let base = b.baseAddress, b.count > 0 { (storage + used).copyMemory(from: base, byteCount: b.count) }
        used += b.count
        return start..<used
    }

    private func appendField(_ f: FieldRange) {
        if fieldCount + 1 == fieldCapacity {
            let fresh = UnsafeMutablePointer<FieldRange>.allocate(capacity: fieldCapacity * 2)
            fresh.moveInitialize(from: fieldStorage, count: fieldCount + 1)
            fieldStorage.deallocate()
            fieldStorage = fresh
            fieldCapacity *= 2
        }
        (fieldStorage + 1 + fieldCount).initialize(to: f)
        fieldCount += 1
    }

    /// Adds one field from the session callback.
    func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if name.first == UInt8(ascii: ":") {
            // Pseudo-headers are told apart by length and second byte: no string compares per field.
            // :scheme is implied by the listener and not forwarded, so it is not kept.
            switch (name.count, name.count > 1 ? name[1] : 0) {
            case (7, UInt8(ascii: "m")): method = store(value)
            case (5, UInt8(ascii: "p")): pathRange = store(value)
            case (10, UInt8(ascii: "a")):
                authority = store(value)
                fieldStorage[0] = FieldRange(nameStart: 0, nameLength: 4,
                                             valueStart: Int32(authority.lowerBound), valueLength: Int32(authority.count))
            default: break
            }
            return
        }
        // Stored as the HTTP/1.1 line `name: value\r\n`, so forwarding to an HTTP/1.1 backend copies
        // it whole (``HTTP1Head/blockField(_:_:_:)``).
        // Locals, stored back once: the class's fields would be reloaded after each copy.
        reserve(name.count + value.count + 4)
        let start = used, base = storage
        var at = start
        if let src = name.baseAddress, name.count > 0 { (base + at).copyMemory(from: src, byteCount: name.count) }
        at += name.count
        (base + at).storeBytes(of: 0x203A, as: UInt16.self)   // ": "
        at += 2
        let valueStart = at
        if let src = value.baseAddress, value.count > 0 { (base + at).copyMemory(from: src, byteCount: value.count) }
        at += value.count
        (base + at).storeBytes(of: 0x0A0D, as: UInt16.self)   // "\r\n"
        used = at + 2
        // (Header blocks are far below 2 GiB: the session caps them.)
        appendField(FieldRange(nameStart: Int32(truncatingIfNeeded: start), nameLength: Int32(truncatingIfNeeded: name.count),
                               valueStart: Int32(truncatingIfNeeded: valueStart), valueLength: Int32(truncatingIfNeeded: value.count)))
        // Only cookie, content-type and content-length matter here: one byte rules out most fields.
        guard name.first == UInt8(ascii: "c") else { return }
        if name.count == 6 {
            if Bytes.equal(name, H2RequestHeaders.cookieName) { cookieCount += 1 }
        } else if Bytes.equal(name, H2RequestHeaders.contentLengthName) {
            var total: UInt64 = 0
            for c in value {
                guard c >= 48, c <= 57, total < UInt64.max / 10 - 10 else { malformed = true; return }
                total = total * 10 + UInt64(c - 48)
            }
            if value.isEmpty { malformed = true }
            contentLength = total
        } else if Bytes.equal(name, H2RequestHeaders.contentTypeName), value.count >= 16,
                  Bytes.hasPrefix(value, H2RequestHeaders.grpcType) {
            isGRPC = true
        }
    }

    /// The block is complete: cookie crumbs are joined into one `cookie` field with "; "
    /// (RFC 9113 §8.2.3), in their order, where the first crumb was; so sticky lookup and an
    /// HTTP/1.1 backend see the same cookie as from an HTTP/1.1 client.
    @inline(__always)
    func finishBlock() {
        if cookieCount > 1 { joinCookies() }
    }

    /// Makes room for `n` more bytes of storage (which may move it).
    private func reserve(_ n: Int) {
        guard n > capacity - used else { return }
        var bigger = capacity * 2
        while bigger - used < n { bigger *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: bigger, alignment: 8)
        fresh.copyMemory(from: storage, byteCount: used)
        storage.deallocate()
        storage = fresh
        capacity = bigger
    }

    private func isCookie(_ f: FieldRange) -> Bool {
        Int(f.nameLength) == 6 && Bytes.equal(f.name(in: bytes), H2RequestHeaders.cookieName)
    }

    private func joinCookies() {
        var first = -1
        var joinedStart = 0
        var write = 0
        let regular = fieldStorage + 1
        // Room for the joined value first, so the crumbs are copied within storage, never moved.
        var joinedLength = 0
        for i in 0..<fieldCount where isCookie(regular[i]) { joinedLength += Int(regular[i].valueLength) + 2 }
        reserve(joinedLength)
        for i in 0..<fieldCount {
            let f = regular[i]
            if isCookie(f) {
                if first < 0 {
                    first = write
                    joinedStart = used
                    regular[write] = f
                    write += 1
                } else {
                    (storage + used).storeBytes(of: UInt8(ascii: ";"), as: UInt8.self)
                    (storage + used + 1).storeBytes(of: UInt8(ascii: " "), as: UInt8.self)
                    used += 2
                }
                let n = Int(f.valueLength)
                if n > 0 { (storage + used).copyMemory(from: storage + Int(f.valueStart), byteCount: n) }
                used += n
                continue
            }
            regular[write] = f
            write += 1
        }
        fieldCount = write
        let f = regular[first]
        regular[first] = FieldRange(nameStart: f.nameStart, nameLength: f.nameLength,
                                         valueStart: Int32(joinedStart), valueLength: Int32(used - joinedStart))
        cookieCount = 1
    }

    // StaticStrings, not `static let` arrays: reading a lazily initialised global costs a
    // swift_once call each time (four per request here).
    static var cookieName: StaticString { "cookie" }
    static var hostName: StaticString { "host" }
    static var hostLength: Int { 4 }
    static var grpcType: StaticString { "application/grpc" }
    static var contentLengthName: StaticString { "content-length" }
    static var contentTypeName: StaticString { "content-type" }

    /// The routing view over the current buffers.
    @inline(__always)
    var view: View { View(buffer: bytes, fields: routingFields, pathRange: pathRange, methodRange: method, model: nil) }

    /// The routing view over pinned buffers.
    struct View: RequestAttributes {
        let buffer: UnsafeRawBufferPointer
        let fields: UnsafeBufferPointer<FieldRange>
        let pathRange: Range<Int>
        let methodRange: Range<Int>
        /// The model the request names, when the proxy looked for one (`match.model` routes).
        var model: UnsafeRawBufferPointer?

        var pathAndQuery: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[pathRange]) }

        var path: UnsafeRawBufferPointer { RequestView.routingPath(PathQuery.path(pathAndQuery)) }

        var rawQuery: UnsafeRawBufferPointer? { PathQuery.query(pathAndQuery) }

        var method: UnsafeRawBufferPointer? { UnsafeRawBufferPointer(rebasing: buffer[methodRange]) }

        func header(_ lowercasedName: [UInt8]) -> UnsafeRawBufferPointer? {
            for f in fields where Int(f.nameLength) == lowercasedName.count {
                let name = f.name(in: buffer)
                if AttributeScan.equals(name, lowercasedName) { return f.value(in: buffer) }
            }
            return nil
        }
    }
}
