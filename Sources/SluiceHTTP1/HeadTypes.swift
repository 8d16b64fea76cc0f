/// Size limits applied while parsing a message head.
///
/// Each limit is enforced as soon as the buffered bytes prove it is exceeded, without waiting for the
/// end of the head.
public struct HTTP1Limits: Sendable {
    /// Longest request line (or status line) in bytes, excluding its CRLF. Exceeding it answers 414.
    public var maxRequestLine: Int
    /// Longest header field line in bytes, excluding its CRLF. Exceeding it answers 431.
    public var maxHeaderLine: Int
    /// Largest head in bytes, including the start line and the final CRLFCRLF. Exceeding it answers 431.
    public var maxHeadBytes: Int
    /// Most header field lines in one head. Exceeding it answers 431 (`too_many_headers`).
    public var maxHeaderCount: Int

    /// Creates limits; the defaults match common server practice (8 KiB lines, 60 KiB heads, 100 fields).
    public init(maxRequestLine: Int = 8192, maxHeaderLine: Int = 8192, maxHeadBytes: Int = 61440, maxHeaderCount: Int = 100) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderLine = maxHeaderLine
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderCount = maxHeaderCount
    }
}

/// The outcome of one `parse` call on a head parser.
public enum ParseResult: Equatable, Sendable {
    /// The buffer does not yet hold a whole head; call again with more bytes.
    case incomplete
    /// The head is complete and valid; the head value has been filled.
    case complete
    /// The head is invalid; the connection should be answered with the error and closed.
    case error(HTTP1Error)
}

/// One header field line, as offsets into the parsed buffer.
///
/// Offsets are relative to the `baseAddress` of the buffer passed to `parse`. The value is trimmed of
/// leading and trailing optional whitespace (SP / HTAB).
public struct FieldRange: Sendable, Equatable {
    /// Offset of the first byte of the field name.
    public var nameStart: Int32
    /// Length of the field name in bytes.
    public var nameLength: Int32
    /// Offset of the first byte of the trimmed field value.
    public var valueStart: Int32
    /// Length of the trimmed field value in bytes (may be 0).
    public var valueLength: Int32

    /// Creates a field range from raw offsets.
    public init(nameStart: Int32, nameLength: Int32, valueStart: Int32, valueLength: Int32) {
        self.nameStart = nameStart
        self.nameLength = nameLength
        self.valueStart = valueStart
        self.valueLength = valueLength
    }

    /// The field name bytes inside `buf` (the buffer this range was parsed from).
    @inlinable
    public func name(in buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[Int(nameStart) ..< Int(nameStart) + Int(nameLength)])
    }

    /// The trimmed field value bytes inside `buf` (the buffer this range was parsed from).
    @inlinable
    public func value(in buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[Int(valueStart) ..< Int(valueStart) + Int(valueLength)])
    }
}

/// A byte range (offset and length) inside a parsed buffer, used for list elements such as Connection tokens.
public struct ByteRange: Sendable, Equatable {
    /// Offset of the first byte, relative to the parsed buffer's base address.
    public var start: Int32
    /// Length in bytes.
    public var length: Int32

    /// Creates a byte range.
    public init(start: Int32, length: Int32) {
        self.start = start
        self.length = length
    }

    /// The bytes of this range inside `buf`.
    @inlinable
    public func bytes(in buf: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buf[Int(start) ..< Int(start) + Int(length)])
    }
}

/// How the body following a head is delimited.
public enum BodyFraming: Sendable, Equatable {
    /// No body follows the head.
    case none
    /// Exactly this many body bytes follow.
    case contentLength(UInt64)
    /// A chunked body follows (see `ChunkedDecoder`).
    case chunked
    /// The body extends until the peer closes the connection (responses only).
    case untilClose
}
