import SluiceCore

/// Something that drives an upstream exchange: a downstream HTTP/1 connection, a shadow
/// copy, an HTTP/2 stream. Upstream connections call back through these methods
/// (vtable dispatch: no existential on the hot path). Defaults do nothing.
class ExchangeHandler: EventHandler {
    /// The non-blocking connect finished; the request can be written.
    func upstreamConnected() {}
    /// Response bytes are waiting in the upstream's `input`.
    func upstreamReadable() {}
    /// The upstream wrote everything queued; more request body may follow.
    func upstreamDrained() {}
    /// The backend closed its side.
    func upstreamEOF() {}
    /// The exchange failed at the connection level.
    func upstreamFailed(_ failure: UpstreamFailure) {}
    /// The upstream connection's deadline passed while active.
    func upstreamTimedOut() {}

    // HTTP/2 upstream streams (backends with `protocol: h2`).

    /// One response header field (pseudo-headers included) or trailer field.
    func h2ResponseHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, isTrailers: Bool) {}
    /// The response header block (or the trailers) ended.
    func h2ResponseHeadersEnd(endStream: Bool, isTrailers: Bool) {}
    /// Response DATA; credit it back with `H2UpstreamConnection.consume` once forwarded.
    func h2ResponseData(_ bytes: UnsafeRawBufferPointer) {}
    /// END_STREAM from the backend.
    func h2ResponseEnd() {}
    /// The upstream stream closed; non-zero `errorCode` is a reset.
    func h2StreamClosed(errorCode: UInt32) {}
    /// The upstream stream can take more request DATA.
    func h2UpstreamWantsData() {}
}
