import Glibc
import SluiceHTTP1

/// Request fields that only Sluice sets towards a backend, so a client's copies are never passed
/// on as if Sluice had set them: one list for every protocol pair and for shadow copies.
///
/// - `x-forwarded-for`: the client's values are kept, in order, and the client's address appended
///   (``ForwardedFor``), so the backend sees every hop.
/// - `x-forwarded-proto`: replaced by Sluice's own (`https` when the client used TLS, else `http`).
/// - `x-forwarded-host`: dropped; the backend reads the host from `host` / `:authority`.
/// - `x-sluice-shadow`: dropped; only shadow copies carry it, set by Sluice.
/// - `x-request-id`: kept, unless Sluice generated a new one because the client's was unusable
///   (empty or over 128 bytes): then only Sluice's goes on, so a backend never sees two.
enum ForwardedFields {
    /// Whether field `f` is one of them (its client value is not copied as is).
    @inline(__always)
    static func isSetBySluice(_ buf: UnsafeRawBufferPointer, _ f: FieldRange, requestIDGenerated: Bool) -> Bool {
        if f.nameLength == 12 { return requestIDGenerated && buf[Int(f.nameStart)] | 0x20 == UInt8(ascii: "x") && isRequestID(buf, f) }
        return isSetBySluice(buf, f)
    }

    /// Whether field `f` is `x-request-id` (out of line: most 12-byte names are `content-type`).
    @inline(never)
    static func isRequestID(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) -> Bool { fieldNameEquals(buf, f, "x-request-id") }

    /// The fields Sluice always sets itself.
    @inline(__always)
    static func isSetBySluice(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) -> Bool {
        switch f.nameLength {
        case 15: return fieldNameEquals(buf, f, "x-forwarded-for") || fieldNameEquals(buf, f, "x-sluice-shadow")
        case 16: return fieldNameEquals(buf, f, "x-forwarded-host")
        case 17: return fieldNameEquals(buf, f, "x-forwarded-proto")
        default: return false
        }
    }
}

/// Byte comparisons against constants, with no global to initialise and no generic collection code.
enum Bytes {
    @inline(__always)
    static func equal(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        bytes.count == s.utf8CodeUnitCount && (bytes.isEmpty || memcmp(bytes.baseAddress!, s.utf8Start, bytes.count) == 0)
    }

    @inline(__always)
    static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        bytes.count >= s.utf8CodeUnitCount && memcmp(bytes.baseAddress!, s.utf8Start, s.utf8CodeUnitCount) == 0
    }
}
