/// Complete JSON error responses, sent when Sluice itself answers a request (parse errors, routing
/// failures, upstream failures). Not on the steady-state hot path; allocates one array.
extension HTTP1Encoder {
    /// Builds the full response for `error`:
    ///
    ///     HTTP/1.1 <status> <reason>\r\n
    ///     content-type: application/json\r\n
    ///     content-length: N\r\n
    ///     connection: close\r\n            (connection: keep-alive when keepAlive is true)
    ///     x-request-id: <id>\r\n
    ///     \r\n
    ///     {"error":"<code>","message":"<message>","request_id":"<id>"}
    ///
    /// The request id is sanitised to visible ASCII (other bytes dropped) so it is safe in a header; code,
    /// message and id are JSON-escaped in the body.
    public static func errorResponse(_ error: HTTP1Error, requestID: some Sequence<UInt8>, keepAlive: Bool = false) -> [UInt8] {
        errorResponse(status: error.status, code: error.code, message: error.message, requestID: requestID, keepAlive: keepAlive)
    }

    /// Builds a full JSON error response from its parts (see `errorResponse(_:requestID:keepAlive:)`).
    public static func errorResponse(status: Int, code: String, message: String, requestID: some Sequence<UInt8>,
                                     keepAlive: Bool = false) -> [UInt8] {
        var id: [UInt8] = []
        id.reserveCapacity(64)
        for b in requestID where b >= 0x21 && b <= 0x7E { id.append(b) }

        var body: [UInt8] = []
        body.reserveCapacity(64 + code.utf8.count + message.utf8.count + id.count)
        append("{\"error\":\"", to: &body)
        appendJSONEscaped(code.utf8, to: &body)
        append("\",\"message\":\"", to: &body)
        appendJSONEscaped(message.utf8, to: &body)
        append("\",\"request_id\":\"", to: &body)
        appendJSONEscaped(id, to: &body)
        append("\"}", to: &body)

        var out: [UInt8] = []
        out.reserveCapacity(192 + id.count + body.count)
        appendStatusLine(status: status, to: &out)
        appendHeader(name: "content-type", value: "application/json", to: &out)
        appendHeader(name: "content-length", decimal: UInt64(body.count), to: &out)
        appendHeader(name: "connection", value: keepAlive ? "keep-alive" : "close", to: &out)
        appendHeader(name: "x-request-id", value: id, to: &out)
        appendCRLF(to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// Appends `bytes` as the contents of a JSON string: `"` and `\` are backslash-escaped, control
    /// characters become `\n`, `\r`, `\t`, `\b`, `\f` or `\u00XX`; other bytes (UTF-8) pass through.
    public static func appendJSONEscaped(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for b in bytes {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            case 0x00 ..< 0x20:
                append("\\u00", to: &out)
                out.append(b >> 4 &+ 48)
                let low = b & 0xF
                out.append(low < 10 ? low &+ 48 : low &+ 87)
            default: out.append(b)
            }
        }
    }
}
