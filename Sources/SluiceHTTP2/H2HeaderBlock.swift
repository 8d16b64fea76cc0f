/// A reusable list of header fields to submit (request headers, response headers, trailers).
///
/// Fields are packed into one byte arena plus an offset table, so a connection can keep one
/// block, `removeAll()` it between messages and submit without allocating once warmed up.
/// HTTP/2 requires lowercase names: `append` copies names as given, `appendLowercasingName`
/// folds ASCII for names that come from HTTP/1. Pseudo-headers (":method", ":path", …) must
/// come first. The session copies the fields during submit; the block may be reused at once.
public struct H2HeaderBlock {
    /// Offsets into `bytes` for one field.
    struct Field {
        var nameStart: Int32
        var nameCount: Int32
        var valueStart: Int32
        var valueCount: Int32
        /// Sent as a never-indexed literal (see `isUniquePerMessage`).
        var neverIndex: Bool
    }

    /// Names and values, back to back.
    var bytes: [UInt8]
    /// One entry per field, in order.
    var fields: [Field]

    /// Creates an empty block with room for `byteCapacity` bytes of names and values.
    public init(byteCapacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(byteCapacity)
        fields = []
        fields.reserveCapacity(16)
    }

    /// Number of fields.
    public var count: Int { fields.count }

    /// True when the block has no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// Drops every field, keeping the storage.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
    }

    /// Appends a field, copying `name` (must already be lowercase) and `value`.
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameStart = bytes.count
        bytes.append(contentsOf: name.assumingMemoryBound(to: UInt8.self))
        let valueStart = bytes.count
        bytes.append(contentsOf: value.assumingMemoryBound(to: UInt8.self))
        addField(nameStart: nameStart, nameCount: name.count, valueStart: valueStart, valueCount: value.count)
    }

    /// Appends a field, folding ASCII uppercase in `name` to lowercase (for HTTP/1 field names).
    public mutating func appendLowercasingName(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let nameStart = bytes.count
        // One bulk copy, then fold in place: appending byte by byte paid Array's capacity and
        // uniqueness checks on every byte (about a thousand instructions per response head).
        bytes.append(contentsOf: name.assumingMemoryBound(to: UInt8.self))
        bytes.withUnsafeMutableBufferPointer { p in
            var i = nameStart
            while i < p.count {
                let b = p[i]
                if b &- 65 < 26 { p[i] = b | 0x20 }
                i += 1
            }
        }
        let valueStart = bytes.count
        bytes.append(contentsOf: value.assumingMemoryBound(to: UInt8.self))
        addField(nameStart: nameStart, nameCount: name.count, valueStart: valueStart, valueCount: value.count)
    }

    /// Records the field just copied to `bytes`.
    private mutating func addField(nameStart: Int, nameCount: Int, valueStart: Int, valueCount: Int) {
        let neverIndex = nameCount == 12 && bytes.withUnsafeBytes {
            H2HeaderBlock.isUniquePerMessage(UnsafeRawBufferPointer(rebasing: $0[nameStart..<nameStart + 12]))
        }
        fields.append(Field(nameStart: Int32(nameStart), nameCount: Int32(nameCount),
                            valueStart: Int32(valueStart), valueCount: Int32(valueCount), neverIndex: neverIndex))
    }

    /// Fields whose value differs in every message (`x-request-id`) are sent as never-indexed
    /// literals, kept out of the peer's HPACK dynamic table. Indexed, each would evict a useful
    /// entry; and nghttp2's encoder keys its table by name, so dozens of same-name entries made
    /// every later lookup of the name walk them all (about 100 memcmp per response).
    static func isUniquePerMessage(_ lowercaseName: UnsafeRawBufferPointer) -> Bool {
        lowercaseName.elementsEqual(raw(requestIDName))
    }

    private static let requestIDName: StaticString = "x-request-id"

    /// Appends a field with a static (lowercase) name and a static value.
    public mutating func append(name: StaticString, value: StaticString) {
        append(name: H2HeaderBlock.raw(name), value: H2HeaderBlock.raw(value))
    }

    /// Appends a field with a static (lowercase) name.
    public mutating func append(name: StaticString, value: UnsafeRawBufferPointer) {
        append(name: H2HeaderBlock.raw(name), value: value)
    }

    /// Appends a field from strings (convenient for tests and configuration; copies UTF-8).
    public mutating func append(name: String, value: String) {
        var n = name
        var v = value
        n.withUTF8 { nb in v.withUTF8 { vb in append(name: UnsafeRawBufferPointer(nb), value: UnsafeRawBufferPointer(vb)) } }
    }

    /// Calls `body` with each field in order; the buffers are valid only during the call.
    public func forEachField(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { raw in
            for f in fields {
                body(UnsafeRawBufferPointer(rebasing: raw[Int(f.nameStart)..<Int(f.nameStart + f.nameCount)]),
                     UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueStart + f.valueCount)]))
            }
        }
    }

    /// A static string's UTF-8 bytes.
    @inline(__always)
    static func raw(_ s: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
}
