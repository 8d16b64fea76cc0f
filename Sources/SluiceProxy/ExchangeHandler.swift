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
}
