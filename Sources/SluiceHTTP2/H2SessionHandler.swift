/// Receives session events. A class (not a protocol) so calls are vtable dispatch, not
/// existentials; the proxy subclasses it. Every method runs inside `H2Session.receive` or
/// `H2Session.flush`; a handler may call the session's submit/enqueue/consume/reset methods
/// from inside, but never `receive` or `flush`.
open class H2SessionHandler {
    /// Creates a handler that ignores every event.
    public init() {}

    /// A header block (request, response or trailers) starts on `stream`.
    open func streamHeadersBegin(stream: Int32) {}

    /// One header field (pseudo-headers included), valid only during the call.
    open func streamHeader(stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {}

    /// The header block ended; `endStream` when no body follows. `isTrailers` for a trailing header block.
    open func streamHeadersEnd(stream: Int32, endStream: Bool, isTrailers: Bool) {}

    /// DATA payload; valid only during the call. The session does NOT auto-consume:
    /// call `session.consume(stream:_:)` as bytes are forwarded.
    open func streamData(stream: Int32, bytes: UnsafeRawBufferPointer) {}

    /// END_STREAM received (after the headers, data or trailers that carried it).
    open func streamEnd(stream: Int32) {}

    /// The stream is closed (both directions, or reset); `errorCode` is 0 for a clean close.
    open func streamClosed(stream: Int32, errorCode: UInt32) {}

    /// The session wants to send more DATA for `stream` and its outbound queue is empty
    /// (body not finished yet): the proxy resumes with `enqueueData` when it has more.
    /// Called once per stall, at the end of `flush`.
    open func streamWantsData(stream: Int32) {}

    /// A stream was refused or reset because a limit fired (counted by the proxy);
    /// `reason` e.g. "header_list_too_large", "too_many_headers", "max_concurrent_streams",
    /// "local_reset_flood" (MadeYouReset guard: the whole connection ends with GOAWAY).
    open func limitExceeded(stream: Int32, reason: StaticString) {}

    /// The peer sent GOAWAY: streams above `lastStream` were not processed (safe to retry),
    /// and no new stream may be opened on this connection.
    open func goAwayReceived(lastStream: Int32, errorCode: UInt32) {}
}
