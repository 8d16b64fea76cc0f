import CNghttp2
import SluiceCore

/// One HTTP/2 connection endpoint (server or client side) driven over memory buffers:
/// the caller feeds socket bytes to `receive` and writes what `flush` produces.
/// Not thread-safe: use it from the connection's event-loop thread only.
public final class H2Session {
    /// The nghttp2 session; created in `init`, deleted in `deinit` (never inside a callback).
    var session: OpaquePointer!
    /// Receives events, unretained: the handler (usually the connection) owns the session and
    /// outlives it. Hot callbacks reach it through `withHandler`, which borrows the reference
    /// instead of retaining and releasing it around every call (one header field is one call).
    let handlerRef: Unmanaged<H2SessionHandler>

    /// The handler, for calls off the per-field path.
    var handler: H2SessionHandler { handlerRef.takeUnretainedValue() }

    /// Calls `body` with the handler borrowed (no retain; see `handlerRef`).
    @inline(__always)
    func withHandler<R>(_ body: (H2SessionHandler) -> R) -> R {
        handlerRef._withUnsafeGuaranteedRef(body)
    }
    /// Limits in force.
    let limits: H2Limits
    /// True for the server side.
    let isServer: Bool
    /// Streams with state, by id (owns them; nghttp2 holds an unretained pointer as stream user data).
    let streams = StreamTable<H2Stream>()
    /// The stream whose header block is being decoded, unretained, and its id: nghttp2 calls
    /// `onHeader` once per field, and its user-data lookup is a hash-map walk (~60 instructions
    /// a field). `streams` owns the stream; `detach` forgets it before it leaves `streams`.
    var last: Unmanaged<H2Stream>?
    var lastID: Int32 = 0
    /// Recycled stream states with their queues.
    var pool: [H2Stream] = []
    /// Streams whose read callback deferred during the current flush: notified at its end.
    var wantsData: [Int32] = []
    /// Streams waiting for `resetAfterEnd` (0: no END_STREAM frame sent needs a look-up).
    var resetsAfterEnd = 0
    /// Second buffer for `wantsData`, swapped in while notifying (no copy, no allocation).
    var wantsDataScratch: [Int32] = []
    /// Reusable nghttp2_nv array for submits.
    var nv: UnsafeMutablePointer<nghttp2_nv>
    /// Capacity of `nv`.
    var nvCapacity = 32
    /// ":status" value digits for `submitResponse`.
    let statusDigits: UnsafeMutablePointer<UInt8>
    /// Counter for MadeYouReset.
    var resetGuard = H2ResetGuard()
    /// A connection error happened or we terminated the session.
    var failed = false
    /// The peer sent GOAWAY.
    var peerWentAway = false
    /// `goAway` was called (graceful end).
    var localGoAway = false
    /// Whether the library has the backported Rapid Reset limiter (false: unpatched upstream 1.52).
    public let hasRapidResetLimiter: Bool

    /// Recycled stream states kept per session.
    static let poolLimit = 16

    /// nghttp2's memory (nil: malloc). Held so that it outlives the session's blocks.
    let allocator: H2Allocator?

    private init(isServer: Bool, handler: H2SessionHandler, limits: H2Limits, allocator: H2Allocator?) {
        self.isServer = isServer
        self.allocator = allocator
        handlerRef = Unmanaged.passUnretained(handler)
        self.limits = limits
        nv = .allocate(capacity: nvCapacity)
        statusDigits = .allocate(capacity: 3)

        var option: OpaquePointer?
        nghttp2_option_new(&option)
        // Flow control follows forwarding: the proxy calls consume() as bytes leave.
        nghttp2_option_set_no_auto_window_update(option, 1)
        // Closed streams are not kept for the RFC 7540 priority tree (Sluice does not schedule by
        // priority): less work per finished stream. Frames that arrive for a closed stream are
        // still recognised by id (nghttp2 remembers the highest id it opened) and the connection
        // window is still credited when they are consumed.
        nghttp2_option_set_no_closed_streams(option, 1)
        nghttp2_option_set_max_send_header_block_length(option, max(limits.maxHeaderListBytes + 4096, 16 * 1024))
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_outbound_ack(option, 1000)
        hasRapidResetLimiter = sluice_nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33) != 0
        _ = sluice_nghttp2_option_set_max_continuations(option, 8)
        if !isServer {
            // Until the server's SETTINGS arrive, assume it allows no more than we would.
            nghttp2_option_set_peer_max_concurrent_streams(option, UInt32(clamping: limits.maxConcurrentStreams))
        }
        let callbacks = H2Session.makeCallbacks()
        let userData = Unmanaged.passUnretained(self).toOpaque()
        var raw: OpaquePointer?
        var mem = allocator?.mem
        let rv: Int32
        if mem != nil {
            rv = isServer
                ? nghttp2_session_server_new3(&raw, callbacks, userData, option, &mem!)
                : nghttp2_session_client_new3(&raw, callbacks, userData, option, &mem!)
        } else {
            rv = isServer
                ? nghttp2_session_server_new2(&raw, callbacks, userData, option)
                : nghttp2_session_client_new2(&raw, callbacks, userData, option)
        }
        nghttp2_session_callbacks_del(callbacks)
        nghttp2_option_del(option)
        precondition(rv == 0 && raw != nil, "nghttp2_session_new failed: \(rv)")
        session = raw

        var settings: [nghttp2_settings_entry] = [
            .init(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                  value: UInt32(clamping: limits.initialStreamWindow)),
            .init(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                  value: UInt32(clamping: limits.maxHeaderListBytes)),
        ]
        if isServer {
            settings.append(.init(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                  value: UInt32(clamping: limits.maxConcurrentStreams)))
        } else {
            settings.append(.init(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        _ = nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), settings, settings.count)
        if limits.connectionWindow > Int(sluice_nghttp2_initial_window_size) {
            _ = nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0,
                                                      Int32(clamping: limits.connectionWindow))
        }
    }

    deinit {
        // nghttp2_session_del does not call on_stream_close for open streams: free their state here.
        streams.forEach { _, stream in stream.release() }
        for stream in pool { stream.release() }
        nghttp2_session_del(session)
        nv.deallocate()
        statusDigits.deallocate()
    }

    /// A server-side session; the first `receive` must start with the client preface.
    /// `allocator`: nghttp2's memory from a worker's free lists (nil: malloc).
    public static func server(handler: H2SessionHandler, limits: H2Limits = H2Limits(),
                              allocator: H2Allocator? = nil) -> H2Session {
        H2Session(isServer: true, handler: handler, limits: limits, allocator: allocator)
    }

    /// A client-side session; its first `flush` emits the connection preface and SETTINGS.
    /// `allocator`: nghttp2's memory from a worker's free lists (nil: malloc).
    public static func client(handler: H2SessionHandler, limits: H2Limits = H2Limits(),
                              allocator: H2Allocator? = nil) -> H2Session {
        H2Session(isServer: false, handler: handler, limits: limits, allocator: allocator)
    }

    /// Feeds bytes read from the socket; returns false on a fatal protocol error
    /// (then flush output, so the peer sees the GOAWAY, and close). Some connection errors
    /// (e.g. the Rapid Reset limiter) only queue a GOAWAY with an error code: the session is
    /// marked failed when `flush` emits it, and later calls return false.
    public func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !failed else { return false }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        let rv = nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rv < 0 {
            failed = true
            // A fatal error already queued GOAWAY where possible; make sure one goes out.
            _ = nghttp2_session_terminate_session(session, H2ErrorCode.protocolError)
            return false
        }
        // Connection errors (and the Rapid Reset limiter) terminate the session without a
        // negative return: nghttp2 then stops wanting to read though nobody ended it gracefully.
        if nghttp2_session_want_read(session) == 0 && !peerWentAway && !localGoAway {
            failed = true
        }
        return !failed
    }

    /// Serializes everything pending (frames + queued DATA, within flow control) into `out`,
    /// stopping once `limit` bytes were added so the caller can apply backpressure.
    /// Streams that ran out of queued DATA are reported through `streamWantsData` at the end;
    /// data enqueued from that callback is serialized in the same call.
    public func flush(into out: inout ByteQueue, limit: Int = 256 * 1024) {
        var written = 0
        while written < limit {
            var chunk: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &chunk)
            if n < 0 {
                failed = true
                break
            }
            if n == 0 {
                if wantsData.isEmpty { break }
                notifyWantsData()
                continue
            }
            out.append(UnsafeRawBufferPointer(start: chunk, count: n))
            written += n
        }
        if !wantsData.isEmpty { notifyWantsData() }
    }

    /// Delivers `streamWantsData` for streams that deferred during `flush`.
    private func notifyWantsData() {
        swap(&wantsData, &wantsDataScratch)
        for id in wantsDataScratch {
            if let stream = stream(id), stream.deferred, !stream.finished {
                handler.streamWantsData(stream: id)
            }
        }
        wantsDataScratch.removeAll(keepingCapacity: true)
    }

    /// nghttp2 wants to read (false once the connection is ending).
    public var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }

    /// nghttp2 has frames or sendable DATA pending. Close the socket when both this and `wantsRead` are false.
    public var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS (our assumption until its SETTINGS arrive).
    public var remoteMaxConcurrentStreams: Int {
        Int(nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS))
    }

    /// Streams opened and not yet closed (submitted requests on a client, accepted requests on a server).
    public var openStreams: Int { streams.count }

    /// The state for `id`, if the stream is open and ours. nghttp2's stream user data is the
    /// fast path; a client stream whose HEADERS are still queued has no nghttp2 stream object
    /// yet (submit only queues them), so the dictionary answers for it.
    @inline(__always)
    func stream(_ id: Int32) -> H2Stream? {
        if let raw = nghttp2_session_get_stream_user_data(session, id) {
            return Unmanaged<H2Stream>.fromOpaque(raw).takeUnretainedValue()
        }
        return streams[id]
    }

    /// Runs `body` with the state of stream `id` borrowed, not retained (`missing` when there is
    /// none): for the per-request submits, whose bodies call neither the handler nor nghttp2's send
    /// or receive, so nothing can close the stream while it is borrowed. Retaining it through
    /// `stream(_:)` cost ~40 instructions per call, four calls per request.
    @inline(__always)
    func withStream<R>(_ id: Int32, missing: R, _ body: (H2Stream) -> R) -> R {
        if let raw = nghttp2_session_get_stream_user_data(session, id) {
            return Unmanaged<H2Stream>.fromOpaque(raw)._withUnsafeGuaranteedRef(body)
        }
        guard let stream = streams[id] else { return missing }
        return body(stream)
    }

    /// A fresh or recycled stream state registered under `id` (0: the id is set after submit).
    func makeStream() -> H2Stream {
        pool.popLast() ?? H2Stream()
    }

    /// Registers `stream` under `id`.
    func attach(_ stream: H2Stream, id: Int32) {
        stream.id = id
        streams[id] = stream
    }

    /// Forgets a closed stream and recycles its state.
    func detach(_ id: Int32) {
        if id == lastID { last = nil; lastID = 0 }
        guard let stream = streams.removeValue(forKey: id) else { return }
        if stream.resetAfterEnd != nil {
            stream.resetAfterEnd = nil
            resetsAfterEnd -= 1
        }
        if pool.count < H2Session.poolLimit {
            stream.recycle()
            pool.append(stream)
        } else {
            stream.release()
        }
    }

    /// Ensures `nv` holds at least `n` entries.
    func reserveNV(_ n: Int) {
        guard n > nvCapacity else { return }
        nv.deallocate()
        nvCapacity = max(n, nvCapacity * 2)
        nv = .allocate(capacity: nvCapacity)
    }
}
