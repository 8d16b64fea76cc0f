/// Per-connection HTTP/2 limits; every one is advertised to or enforced on the peer.
public struct H2Limits: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS advertised to the peer (excess streams get REFUSED_STREAM);
    /// on the client side also the assumed peer limit until its SETTINGS arrive.
    public var maxConcurrentStreams: Int
    /// Cap on one decoded header block: sum of name + value + 32 per field (RFC 9113 §6.5.2);
    /// advertised as SETTINGS_MAX_HEADER_LIST_SIZE and enforced, since nghttp2 1.52 does not.
    public var maxHeaderListBytes: Int
    /// Cap on the number of fields in one header block (pseudo-headers included).
    public var maxHeaderCount: Int
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much DATA the peer may send per stream before we consume.
    public var initialStreamWindow: Int
    /// Connection-level receive window (a WINDOW_UPDATE raises it from 65535 at start).
    public var connectionWindow: Int
    /// Bytes of outbound DATA the caller should queue per stream before pausing its source;
    /// compare with `H2Session.outboundQueued(stream:)`. The session itself does not refuse data.
    public var maxOutboundQueueBytesPerStream: Int

    /// Creates limits; the defaults follow the project's hardening notes.
    public init(
        maxConcurrentStreams: Int = 100,
        maxHeaderListBytes: Int = 65536,
        maxHeaderCount: Int = 100,
        initialStreamWindow: Int = 65535,
        connectionWindow: Int = 1 << 20,
        maxOutboundQueueBytesPerStream: Int = 256 * 1024
    ) {
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxHeaderCount = maxHeaderCount
        self.initialStreamWindow = initialStreamWindow
        self.connectionWindow = connectionWindow
        self.maxOutboundQueueBytesPerStream = maxOutboundQueueBytesPerStream
    }
}
