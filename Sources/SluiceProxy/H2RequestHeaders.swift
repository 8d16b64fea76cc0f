import SluiceHTTP1
import SluiceRouting

/// The header block of one HTTP/2 request, copied out of nghttp2's callbacks into one
/// reusable byte buffer; pseudo-headers are kept apart. Serves as the routing view.
struct H2RequestHeaders {
    var bytes: [UInt8] = []
    /// Regular fields (names are lowercase in HTTP/2).
    var fields: [FieldRange] = []
    var method = 0..<0
    var pathRange = 0..<0
    var authority = 0..<0
    var scheme = 0..<0
    /// Declared content-length, if any.
    var contentLength: UInt64?
    /// Request came with `content-type: application/grpc...`.
    var isGRPC = false
    /// A malformed block (missing pseudo-headers, bad content-length).
    var malformed = false

    init() {
        bytes.reserveCapacity(1024)
        fields.reserveCapacity(16)
    }

    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        method = 0..<0
        pathRange = 0..<0
        authority = 0..<0
        scheme = 0..<0
        contentLength = nil
        isGRPC = false
        malformed = false
    }

    private mutating func store(_ b: UnsafeRawBufferPointer) -> Range<Int> {
        let start = bytes.count
        bytes.append(contentsOf: b)
        return start..<bytes.count
    }

    /// Adds one field from the session callback.
    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if name.first == UInt8(ascii: ":") {
            // Pseudo-headers are told apart by length and second byte: no string compares per field.
            let v = store(value)
            switch (name.count, name.count > 1 ? name[1] : 0) {
            case (7, UInt8(ascii: "m")): method = v
            case (5, UInt8(ascii: "p")): pathRange = v
            case (10, UInt8(ascii: "a")): authority = v
            case (7, UInt8(ascii: "s")): scheme = v
            default: break
            }
            return
        }
        let n = store(name)
        let v = store(value)
        fields.append(FieldRange(nameStart: Int32(n.lowerBound), nameLength: Int32(n.count),
                                 valueStart: Int32(v.lowerBound), valueLength: Int32(v.count)))
        guard name.count == 14 || name.count == 12, name[0] == UInt8(ascii: "c") else { return }
        if AttributeScan.equals(name, H2RequestHeaders.contentLengthName) {
            var total: UInt64 = 0
            for c in value {
                guard c >= 48, c <= 57, total < UInt64.max / 10 - 10 else { malformed = true; return }
                total = total * 10 + UInt64(c - 48)
            }
            if value.isEmpty { malformed = true }
            contentLength = total
        } else if AttributeScan.equals(name, H2RequestHeaders.contentTypeName), value.count >= 16,
                  AttributeScan.hasPrefix(value, H2RequestHeaders.grpcType) {
            isGRPC = true
        }
    }

    static let grpcType: [UInt8] = Array("application/grpc".utf8)
    static let contentLengthName: [UInt8] = Array("content-length".utf8)
    static let contentTypeName: [UInt8] = Array("content-type".utf8)

    /// Runs `body` with the bytes (pointers valid only inside).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes(body)
    }

    /// The routing view over a pinned buffer.
    struct View: RequestAttributes {
        let buffer: UnsafeRawBufferPointer
        let headers: H2RequestHeaders

        var pathAndQuery: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[headers.pathRange]) }

        var path: UnsafeRawBufferPointer { PathQuery.path(pathAndQuery) }

        var rawQuery: UnsafeRawBufferPointer? { PathQuery.query(pathAndQuery) }

        func header(_ lowercasedName: [UInt8]) -> UnsafeRawBufferPointer? {
            for f in headers.fields where Int(f.nameLength) == lowercasedName.count {
                let name = f.name(in: buffer)
                if AttributeScan.equals(name, lowercasedName) { return f.value(in: buffer) }
            }
            return nil
        }
    }
}
