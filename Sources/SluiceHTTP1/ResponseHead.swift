/// A parsed, validated response head. All positions are offsets into the buffer passed to
/// `ResponseHeadParser.parse`; the head holds no copies of the bytes.
///
/// Reuse one value per upstream connection: `reset()` keeps the arrays' capacity.
public struct ResponseHead: MessageHead, Sendable, Equatable {
    /// Bytes from the buffer start through the final CRLFCRLF. The body (or the next head, after a 1xx)
    /// starts at this offset.
    public var headLength: Int
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    /// The status code (100...599).
    public var status: Int
    /// Offset of the reason phrase.
    public var reasonStart: Int
    /// Length of the reason phrase (may be 0).
    public var reasonLength: Int
    /// The header fields in order of appearance.
    public var fields: [FieldRange]
    /// How the response body is delimited. `.none` for 1xx, 204, 304 and responses to HEAD; `.untilClose`
    /// when neither Transfer-Encoding: chunked nor Content-Length delimits it.
    public var framing: BodyFraming
    /// Whether the upstream connection may be reused after this response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`; always false for `.untilClose`.
    public var keepAlive: Bool
    /// The elements listed in Connection fields (excluding empty elements), in order.
    public var connectionTokens: [ByteRange]
    /// Whether `connectionTokens` holds a name other than the fixed hop-by-hop ones (which are
    /// dropped anyway): when false, `isHopByHop` needs no token comparison. `Connection:
    /// keep-alive`, on nearly every keep-alive message, leaves it false (`close` does not: a
    /// field named `Close` would be listed).
    public var connectionListsOthers: Bool
    /// Bit `i` set: field `i` (of the first 64) has a fixed hop-by-hop name (``isHopByHop(_:_:at:)``).
    public var hopByHopMask: UInt64

    /// Creates an empty head with capacity reserved for 32 fields.
    public init() {
        headLength = 0
        versionMinor = 1
        status = 0
        reasonStart = 0
        reasonLength = 0
        fields = []
        fields.reserveCapacity(32)
        framing = .none
        keepAlive = true
        connectionTokens = []
        connectionTokens.reserveCapacity(8)
        connectionListsOthers = false
        hopByHopMask = 0
    }

    /// Clears all values, keeping array capacity.
    public mutating func reset() {
        headLength = 0
        versionMinor = 1
        status = 0
        reasonStart = 0
        reasonLength = 0
        if !fields.isEmpty { fields.removeAll(keepingCapacity: true) }
        framing = .none
        keepAlive = true
        // (Array's removeAll(keepingCapacity:) is a generic replaceSubrange, ~50 instructions
        // even on an empty array; most messages carry no Connection tokens.)
        if !connectionTokens.isEmpty { connectionTokens.removeAll(keepingCapacity: true) }
        connectionListsOthers = false
        hopByHopMask = 0
    }

    /// Whether this is an informational (1xx) response; another head follows it.
    public var isInformational: Bool { status < 200 }

    /// The reason phrase bytes inside `buf`.
    public func reason(in buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[reasonStart ..< reasonStart + reasonLength])
    }
}
