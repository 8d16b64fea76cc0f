/// A parsed, validated request head. All positions are offsets into the buffer passed to
/// `RequestHeadParser.parse`; the head holds no copies of the bytes.
///
/// Reuse one value per connection: `reset()` keeps the arrays' capacity, so steady-state parsing does
/// not allocate.
public struct RequestHead: MessageHead, Sendable, Equatable {
    /// Bytes from the buffer start through the final CRLFCRLF (includes any skipped leading empty lines).
    /// The body, or the next pipelined request, starts at this offset.
    public var headLength: Int
    /// Offset of the method.
    public var methodStart: Int
    /// Length of the method.
    public var methodLength: Int
    /// Offset of the request-target.
    public var targetStart: Int
    /// Length of the request-target.
    public var targetLength: Int
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    /// The header fields in order of appearance.
    public var fields: [FieldRange]
    /// How the request body is delimited (`.none`, `.contentLength` or `.chunked`; never `.untilClose`).
    public var framing: BodyFraming
    /// Whether the connection may be reused: HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive` (and no `close`).
    public var keepAlive: Bool
    /// Whether the request carries `Expect: 100-continue` (HTTP/1.1 only; Expect is ignored on HTTP/1.0).
    public var expectContinue: Bool
    /// Whether the method is exactly `HEAD`.
    public var isHEAD: Bool
    /// Index into `fields` of the Host field, if present (at most one is allowed).
    public var hostIndex: Int?
    /// The elements listed in Connection fields (excluding empty elements), in order. These name
    /// hop-by-hop fields a proxy must drop; use `isConnectionListed` or `isHopByHop` to test a field.
    public var connectionTokens: [ByteRange]
    /// Whether `connectionTokens` holds a name other than the fixed hop-by-hop ones (which are
    /// dropped anyway): when false, `isHopByHop` needs no token comparison. `Connection:
    /// keep-alive`, on nearly every keep-alive message, leaves it false (`close` does not: a
    /// field named `Close` would be listed).
    public var connectionListsOthers: Bool
    /// Bit `i` set: field `i` (of the first 64) has a fixed hop-by-hop name (``isHopByHop(_:_:at:)``).
    public var hopByHopMask: UInt64
    /// Whether an Upgrade field is present (h2c upgrades are rejected during parsing).
    public var hasUpgrade: Bool

    /// Creates an empty head with capacity reserved for 32 fields.
    public init() {
        headLength = 0
        methodStart = 0; methodLength = 0
        targetStart = 0; targetLength = 0
        versionMinor = 1
        fields = []
        fields.reserveCapacity(32)
        framing = .none
        keepAlive = true
        expectContinue = false
        isHEAD = false
        hostIndex = nil
        connectionTokens = []
        connectionTokens.reserveCapacity(8)
        connectionListsOthers = false
        hopByHopMask = 0
        hasUpgrade = false
    }

    /// Clears all values, keeping array capacity.
    public mutating func reset() {
        headLength = 0
        methodStart = 0; methodLength = 0
        targetStart = 0; targetLength = 0
        versionMinor = 1
        if !fields.isEmpty { fields.removeAll(keepingCapacity: true) }
        framing = .none
        keepAlive = true
        expectContinue = false
        isHEAD = false
        hostIndex = nil
        // (Array's removeAll(keepingCapacity:) is a generic replaceSubrange, ~50 instructions
        // even on an empty array; most messages carry no Connection tokens.)
        if !connectionTokens.isEmpty { connectionTokens.removeAll(keepingCapacity: true) }
        connectionListsOthers = false
        hopByHopMask = 0
        hasUpgrade = false
    }

    /// The method bytes inside `buf`.
    public func method(in buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[methodStart ..< methodStart + methodLength])
    }

    /// The request-target bytes inside `buf`.
    public func target(in buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[targetStart ..< targetStart + targetLength])
    }
}

/// Matching of field names against Connection-listed tokens (for parsed heads and for the
/// proxy's forwarded request head alike).
public enum ConnectionList {
    /// Whether `f`'s name equals (case-insensitively) one of `tokens`.
    public static func contains(_ tokens: [ByteRange], _ buf: UnsafeRawBufferPointer, _ f: FieldRange) -> Bool {
        if tokens.isEmpty { return false }
        let name = f.name(in: buf)
        for t in tokens where t.length == f.nameLength {
            if asciiCaseInsensitiveEquals(t.bytes(in: buf), name) { return true }
        }
        return false
    }
}
