import SluiceCore

/// Per-stream state owned by an `H2Session`: the outbound DATA queue and header-list counters.
/// Pooled by the session so queues are reused across streams.
final class H2Stream {
    /// Stream id (0 until the client's HEADERS get one).
    var id: Int32 = 0
    /// Outbound DATA waiting for flow control; allocated on first use and kept when pooled.
    var out: ByteQueue?
    /// A data provider is attached (headers were submitted without END_STREAM).
    var hasProvider = false
    /// `finishData` was called: END_STREAM (or trailers) after the queue drains.
    var finished = false
    /// Trailers to send after the queue drains.
    var trailers: H2HeaderBlock?
    /// RST_STREAM to send once the frame carrying END_STREAM went out, if the peer still sends
    /// (see `H2Session.resetAfterEnd(stream:errorCode:)`).
    var resetAfterEnd: UInt32?
    /// The storage of the submitted response head, which nghttp2 reads without copying when it
    /// writes the HEADERS frame (see `H2Session.submitResponse`); held until the stream closes.
    var submittedHead: H2HeaderBlock.Storage?
    /// The read callback returned NGHTTP2_ERR_DEFERRED; resume on enqueue/finish.
    var deferred = false
    /// Decoded bytes of the current inbound header block (name + value + 32 per field).
    var headerBytes = 0
    /// Fields in the current inbound header block.
    var headerCount = 0
    /// The inbound header block broke a limit: ignore the rest of it.
    var rejected = false

    /// Queued outbound bytes.
    var queued: Int { out?.count ?? 0 }

    /// Copies bytes into the outbound queue.
    func enqueue(_ bytes: UnsafeRawBufferPointer) {
        if out == nil { out = ByteQueue(capacity: max(16 * 1024, bytes.count)) }
        out!.append(bytes)
    }

    /// Clears the state for reuse, keeping the queue's storage.
    func recycle() {
        id = 0
        out?.clear()
        hasProvider = false
        finished = false
        trailers = nil
        resetAfterEnd = nil
        submittedHead = nil
        deferred = false
        headerBytes = 0
        headerCount = 0
        rejected = false
    }

    /// Frees the queue's storage; called once, when the stream is dropped for good.
    func release() {
        out?.deallocate()
        out = nil
    }
}
