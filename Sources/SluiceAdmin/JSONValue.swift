/// A JSON document built by the admin handlers and serialized in a fixed, readable key order.
///
/// Foundation's `JSONSerialization` would sort keys or scramble them; operators read `/stats` with their
/// eyes and `jq`, so objects keep the order the handler wrote (`name` first, counters after).
enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A signed integer.
    case int(Int64)
    /// An unsigned integer (counters).
    case uint(UInt64)
    /// A floating-point number; non-finite values serialize as `null`.
    case double(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, members in insertion order.
    case object([Member])

    /// One object member.
    struct Member: Sendable, Equatable {
        /// The key.
        var key: String
        /// The value.
        var value: JSONValue
    }

    /// Builds an object from `(key, value)` pairs, keeping their order.
    static func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(pairs.map { Member(key: $0.key, value: $0.value) })
    }

    /// Builds an object from an array of pairs (for members computed in a loop).
    static func members(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { Member(key: $0.0, value: $0.1) })
    }

    /// `.int` from any integer.
    static func integer(_ value: Int) -> JSONValue { .int(Int64(value)) }

    /// `.string` or `.null`.
    static func optionalString(_ value: String?) -> JSONValue {
        value.map { .string($0) } ?? .null
    }

    /// Compact serialization followed by a newline (friendly to `curl` in a terminal).
    var serialized: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(into: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Compact serialization as a string (no trailing newline).
    var text: String {
        var out: [UInt8] = []
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the compact serialization to `out`.
    func write(into out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i):
            out.append(contentsOf: String(i).utf8)
        case .uint(let u):
            out.append(contentsOf: String(u).utf8)
        case .double(let d):
            out.append(contentsOf: Self.format(d).utf8)
        case .string(let s):
            Self.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(m.key, into: &out)
                out.append(UInt8(ascii: ":"))
                m.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// JSON number text: integral values without a fraction, others in Swift's shortest round-trip form;
    /// NaN and infinities (not representable in JSON) become `null`.
    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992 { return String(Int64(d)) }
        return d.description
    }

    /// Writes `s` as a JSON string literal, escaping quotes, backslashes and control characters.
    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x00..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
