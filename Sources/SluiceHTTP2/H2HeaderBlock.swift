import SluiceHTTP1
/// A reusable list of header fields to submit (request headers, response headers, trailers).
///
/// Fields are packed into one byte arena plus an offset table, so a connection can keep one
/// block, `removeAll()` it between messages and submit without allocating once warmed up.
/// HTTP/2 requires lowercase names: `append` copies names as given, `appendLowercasingName`
/// folds ASCII for names that come from HTTP/1. Pseudo-headers (":method", ":path", …) must
/// come first. A submitted block may be reused at once: the session copies the fields, or, for a
/// response head, keeps the storage it reads them from (copy-on-write, see `submitResponse`).
public struct H2HeaderBlock {
    /// Offsets into the byte arena for one field.
    struct Field {
        var nameStart: Int32
        var nameCount: Int32
        var valueStart: Int32
        var valueCount: Int32
        /// Sent as a never-indexed literal (see `isUniquePerMessage`).
        var neverIndex: Bool
    }

    /// The arena and the field table in raw memory, shared by copies of a block until one of them
    /// changes (copy-on-write by hand: `mutableStorage`). Two Arrays cost three uniqueness and
    /// capacity checks and two generic `append(contentsOf:)` calls per field (≈ 400 instructions
    /// per field of a response head); this is one uniqueness check and two memcpy.
    final class Storage {
        var bytes: UnsafeMutableRawPointer
        var byteCapacity: Int
        var byteCount = 0
        var fields: UnsafeMutablePointer<Field>
        var fieldCapacity: Int
        var fieldCount = 0

        init(byteCapacity: Int, fieldCapacity: Int) {
            self.byteCapacity = max(byteCapacity, 16)
            self.fieldCapacity = max(fieldCapacity, 4)
            bytes = .allocate(byteCount: self.byteCapacity, alignment: 8)
            fields = .allocate(capacity: self.fieldCapacity)
        }

        deinit {
            bytes.deallocate()
            fields.deallocate()
        }

        /// An independent copy (same capacities).
        func copy() -> Storage {
            let c = Storage(byteCapacity: byteCapacity, fieldCapacity: fieldCapacity)
            c.bytes.copyMemory(from: bytes, byteCount: byteCount)
            c.fields.initialize(from: fields, count: fieldCount)
            c.byteCount = byteCount
            c.fieldCount = fieldCount
            return c
        }

        /// Makes room for `n` more bytes and one more field.
        @inline(__always)
        func reserve(bytes n: Int) {
            if byteCount + n > byteCapacity || fieldCount == fieldCapacity { grow(bytes: n) }
        }

        @inline(never)
        func grow(bytes n: Int) {
            if byteCount + n > byteCapacity {
                var capacity = byteCapacity * 2
                while byteCount + n > capacity { capacity *= 2 }
                let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
                fresh.copyMemory(from: bytes, byteCount: byteCount)
                bytes.deallocate()
                bytes = fresh
                byteCapacity = capacity
            }
            if fieldCount == fieldCapacity {
                let fresh = UnsafeMutablePointer<Field>.allocate(capacity: fieldCapacity * 2)
                fresh.moveInitialize(from: fields, count: fieldCount)
                fields.deallocate()
                fields = fresh
                fieldCapacity *= 2
            }
        }

        /// Copies `src` to the end of the arena (room reserved); returns where it starts.
        @inline(__always)
        func copyIn(_ src: UnsafeRawBufferPointer) -> Int {
            let start = byteCount
            if let base = src.baseAddress, src.count > 0 {
                (bytes + start).copyMemory(from: base, byteCount: src.count)
                byteCount = start + src.count
            }
            return start
        }

        /// Records the field whose name and value were just copied in.
        @inline(__always)
        func addField(nameStart: Int, nameCount: Int, valueStart: Int, valueCount: Int) {
            let neverIndex = nameCount == 12
                && H2HeaderBlock.isUniquePerMessage(UnsafeRawBufferPointer(start: bytes + nameStart, count: 12))
            // (Header blocks are far below 2 GiB: the session caps them.)
            fields[fieldCount] = Field(nameStart: Int32(truncatingIfNeeded: nameStart), nameCount: Int32(truncatingIfNeeded: nameCount),
                                       valueStart: Int32(truncatingIfNeeded: valueStart), valueCount: Int32(truncatingIfNeeded: valueCount),
                                       neverIndex: neverIndex)
            fieldCount += 1
        }
    }

    var storage: Storage

    /// Creates an empty block with room for `byteCapacity` bytes of names and values.
    public init(byteCapacity: Int = 512) {
        storage = Storage(byteCapacity: byteCapacity, fieldCapacity: 16)
    }

    /// The storage, copied first when another block shares it.
    @inline(__always)
    private mutating func mutableStorage() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    /// Number of fields.
    public var count: Int { storage.fieldCount }

    /// True when the block has no fields.
    public var isEmpty: Bool { storage.fieldCount == 0 }

    /// Drops every field, keeping the storage.
    public mutating func removeAll() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(byteCapacity: storage.byteCapacity, fieldCapacity: storage.fieldCapacity)
            return
        }
        storage.byteCount = 0
        storage.fieldCount = 0
    }

    /// Appends a field, copying `name` (must already be lowercase) and `value`.
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let s = mutableStorage()
        s.reserve(bytes: name.count + value.count)
        let nameStart = s.copyIn(name)
        let valueStart = s.copyIn(value)
        s.addField(nameStart: nameStart, nameCount: name.count, valueStart: valueStart, valueCount: value.count)
    }

    /// Appends a field, folding ASCII uppercase in `name` to lowercase (for HTTP/1 field names).
    public mutating func appendLowercasingName(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let s = mutableStorage()
        // 8 bytes of slack: the name is folded in whole words, the last one running into the
        // free space the value is copied over next (no byte-by-byte tail; the byte loop this
        // replaced was ~100 instructions per name).
        s.reserve(bytes: name.count + value.count + 8)
        let nameStart = s.copyIn(name)
        let p = s.bytes + nameStart
        let n = name.count
        var i = 0
        while i < n {
            p.storeBytes(of: asciiLowerWord(p.loadUnaligned(fromByteOffset: i, as: UInt64.self)),
                         toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        let valueStart = s.copyIn(value)
        s.addField(nameStart: nameStart, nameCount: name.count, valueStart: valueStart, valueCount: value.count)
    }

    /// Fields whose value differs in every message (`x-request-id`) are sent as never-indexed
    /// literals, kept out of the peer's HPACK dynamic table. Indexed, each would evict a useful
    /// entry; and nghttp2's encoder keys its table by name, so dozens of same-name entries made
    /// every later lookup of the name walk them all (about 100 memcmp per response).
    /// (Two word loads: every 12-byte name, `content-type` in every response, is tested.)
    @inline(__always)
    static func isUniquePerMessage(_ lowercaseName: UnsafeRawBufferPointer) -> Bool {
        guard lowercaseName.count == 12, let p = lowercaseName.baseAddress else { return false }
        let q = requestIDName.utf8Start
        return p.loadUnaligned(as: UInt64.self) == UnsafeRawPointer(q).loadUnaligned(as: UInt64.self)
            && p.loadUnaligned(fromByteOffset: 8, as: UInt32.self) == UnsafeRawPointer(q).loadUnaligned(fromByteOffset: 8, as: UInt32.self)
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
        let s = storage
        for i in 0..<s.fieldCount {
            let f = s.fields[i]
            body(UnsafeRawBufferPointer(start: s.bytes + Int(f.nameStart), count: Int(f.nameCount)),
                 UnsafeRawBufferPointer(start: s.bytes + Int(f.valueStart), count: Int(f.valueCount)))
        }
    }

    /// A static string's UTF-8 bytes.
    @inline(__always)
    static func raw(_ s: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }
}
