/// HTTP/2 error codes (RFC 9113 §7) for RST_STREAM and GOAWAY, as plain integers.
public enum H2ErrorCode {
    /// Graceful shutdown or normal close.
    public static let noError: UInt32 = 0x0
    /// Unspecific protocol error.
    public static let protocolError: UInt32 = 0x1
    /// Unexpected internal error.
    public static let internalError: UInt32 = 0x2
    /// Flow-control violation.
    public static let flowControlError: UInt32 = 0x3
    /// SETTINGS not acknowledged in time.
    public static let settingsTimeout: UInt32 = 0x4
    /// Frame received on a half-closed stream.
    public static let streamClosed: UInt32 = 0x5
    /// Frame of invalid size.
    public static let frameSizeError: UInt32 = 0x6
    /// Stream refused before any processing (safe to retry).
    public static let refusedStream: UInt32 = 0x7
    /// Stream no longer needed.
    public static let cancel: UInt32 = 0x8
    /// HPACK state cannot be maintained.
    public static let compressionError: UInt32 = 0x9
    /// CONNECT tunnel failed.
    public static let connectError: UInt32 = 0xa
    /// Peer behaviour looks abusive.
    public static let enhanceYourCalm: UInt32 = 0xb
    /// Transport security too weak.
    public static let inadequateSecurity: UInt32 = 0xc
    /// Use HTTP/1.1 instead.
    public static let http11Required: UInt32 = 0xd
}
