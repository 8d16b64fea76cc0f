/// The fixed set of hop-by-hop header fields a proxy must not forward (RFC 9110 §7.6.1), plus
/// `proxy-connection` and `http2-settings`.
///
/// Fields named in a message's Connection header are hop-by-hop too; test those with
/// `RequestHead.isHopByHop` / `ResponseHead.isHopByHop`, which combine both checks.
public enum HopByHop {
    /// Whether `name` is one of: connection, keep-alive, proxy-connection, transfer-encoding, te, trailer,
    /// upgrade, proxy-authenticate, proxy-authorization, http2-settings (compared case-insensitively).
    @inlinable
    public static func isHopByHop(_ name: UnsafeRawBufferPointer) -> Bool {
        let n = name.count
        switch n {
        case 2: return ASCII.equalsLowercase(name, 0, n, "te")
        case 7: return ASCII.equalsLowercase(name, 0, n, "trailer") || ASCII.equalsLowercase(name, 0, n, "upgrade")
        case 10: return ASCII.equalsLowercase(name, 0, n, "connection") || ASCII.equalsLowercase(name, 0, n, "keep-alive")
        case 14: return ASCII.equalsLowercase(name, 0, n, "http2-settings")
        case 16: return ASCII.equalsLowercase(name, 0, n, "proxy-connection")
        case 17: return ASCII.equalsLowercase(name, 0, n, "transfer-encoding")
        case 18: return ASCII.equalsLowercase(name, 0, n, "proxy-authenticate")
        case 19: return ASCII.equalsLowercase(name, 0, n, "proxy-authorization")
        default: return false
        }
    }

    /// Whether the name of field `f` inside `buf` is one of the fixed hop-by-hop names.
    @inlinable
    public static func isHopByHop(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) -> Bool {
        isHopByHop(f.name(in: buf))
    }
}
