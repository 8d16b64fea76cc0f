/// Allocation-free building blocks for serialising HTTP/1.1 heads into a caller-owned `[UInt8]`.
///
/// Every function appends to `out`; reserve capacity once (e.g. 4 KiB) and reuse the array with
/// `removeAll(keepingCapacity: true)`. Numbers are written without String formatting. Callers are
/// responsible for passing already-validated bytes (e.g. names and values taken from a parsed head).
public enum HTTP1Encoder {
    /// Appends CRLF.
    @inlinable
    public static func appendCRLF(to out: inout [UInt8]) {
        out.append(ASCII.cr)
        out.append(ASCII.lf)
    }

    /// Appends the bytes of an ASCII constant.
    @inlinable
    public static func append(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends `value` in ASCII decimal.
    @inlinable
    public static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor &*= 10 }
        var rest = value
        while true {
            out.append(UInt8(truncatingIfNeeded: rest / divisor) &+ 48)
            rest %= divisor
            if divisor == 1 { break }
            divisor /= 10
        }
    }

    /// Appends `value` in ASCII decimal (with a leading `-` when negative).
    @inlinable
    public static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(0x2D) }
        appendDecimal(UInt64(value.magnitude), to: &out)
    }

    /// Appends `value` in lowercase ASCII hex without leading zeros (e.g. a chunk size).
    @inlinable
    public static func appendHex(_ value: UInt64, to out: inout [UInt8]) {
        var shift = 60
        while shift > 0 && (value >> UInt64(shift)) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            let d = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
            out.append(d < 10 ? d &+ 48 : d &+ 87)
            shift -= 4
        }
    }

    /// Appends `method SP target SP HTTP/1.<versionMinor> CRLF`.
    @inlinable
    public static func appendRequestLine(method: some Sequence<UInt8>, target: some Sequence<UInt8>,
                                         versionMinor: Int = 1, to out: inout [UInt8]) {
        out.append(contentsOf: method)
        out.append(ASCII.sp)
        out.append(contentsOf: target)
        append(versionMinor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n", to: &out)
    }

    /// Appends `HTTP/1.<versionMinor> SP status SP reason CRLF`, with the standard reason phrase.
    @inlinable
    public static func appendStatusLine(status: Int, versionMinor: Int = 1, to out: inout [UInt8]) {
        appendStatusLineStart(status: status, versionMinor: versionMinor, to: &out)
        append(reasonPhrase(for: status), to: &out)
        appendCRLF(to: &out)
    }

    /// Appends `HTTP/1.<versionMinor> SP status SP reason CRLF` with the given reason bytes
    /// (e.g. the upstream's reason phrase).
    @inlinable
    public static func appendStatusLine(status: Int, reason: some Sequence<UInt8>, versionMinor: Int = 1,
                                        to out: inout [UInt8]) {
        appendStatusLineStart(status: status, versionMinor: versionMinor, to: &out)
        out.append(contentsOf: reason)
        appendCRLF(to: &out)
    }

    @inlinable
    static func appendStatusLineStart(status: Int, versionMinor: Int, to out: inout [UInt8]) {
        append(versionMinor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ", to: &out)
        appendDecimal(status, to: &out)
        out.append(ASCII.sp)
    }

    /// Appends `name: value CRLF`.
    @inlinable
    public static func appendHeader(name: some Sequence<UInt8>, value: some Sequence<UInt8>, to out: inout [UInt8]) {
        out.append(contentsOf: name)
        out.append(ASCII.colon)
        out.append(ASCII.sp)
        out.append(contentsOf: value)
        appendCRLF(to: &out)
    }

    /// Appends `name: value CRLF` for a constant name.
    @inlinable
    public static func appendHeader(name: StaticString, value: some Sequence<UInt8>, to out: inout [UInt8]) {
        append(name, to: &out)
        out.append(ASCII.colon)
        out.append(ASCII.sp)
        out.append(contentsOf: value)
        appendCRLF(to: &out)
    }

    /// Appends `name: value CRLF` for a constant name and value.
    @inlinable
    public static func appendHeader(name: StaticString, value: StaticString, to out: inout [UInt8]) {
        append(name, to: &out)
        out.append(ASCII.colon)
        out.append(ASCII.sp)
        append(value, to: &out)
        appendCRLF(to: &out)
    }

    /// Appends `name: <decimal> CRLF` (e.g. content-length).
    @inlinable
    public static func appendHeader(name: StaticString, decimal: UInt64, to out: inout [UInt8]) {
        append(name, to: &out)
        out.append(ASCII.colon)
        out.append(ASCII.sp)
        appendDecimal(decimal, to: &out)
        appendCRLF(to: &out)
    }

    /// Appends the raw bytes of field `f` from a parsed buffer as `name: value CRLF`
    /// (name case preserved, value already trimmed).
    @inlinable
    public static func appendField(_ buf: UnsafeRawBufferPointer, _ f: FieldRange, to out: inout [UInt8]) {
        appendHeader(name: f.name(in: buf), value: f.value(in: buf), to: &out)
    }

    /// The standard reason phrase for `status` (RFC 9110 names), or a generic class phrase.
    public static func reasonPhrase(for status: Int) -> StaticString {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 417: return "Expectation Failed"
        case 421: return "Misdirected Request"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        case 100 ..< 200: return "Informational"
        case 200 ..< 300: return "Success"
        case 300 ..< 400: return "Redirection"
        case 400 ..< 500: return "Client Error"
        default: return "Server Error"
        }
    }
}
