import CNghttp2
import SluiceCore

/// Inbound side: the nghttp2 callbacks. Each is a capture-free closure (a C function pointer)
/// that recovers the session from `user_data` and forwards to a method; none frees the session.
extension H2Session {
    /// Return value that makes nghttp2 reset just the current stream.
    static let resetThisStream = Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)

    /// Runs `body` with the session behind `user_data` borrowed: the session outlives every
    /// callback nghttp2 makes (it is only deleted in deinit), so no retain is needed.
    @inline(__always)
    static func with<R>(_ userData: UnsafeMutableRawPointer?, _ body: (H2Session) -> R) -> R {
        Unmanaged<H2Session>.fromOpaque(userData!)._withUnsafeGuaranteedRef(body)
    }

    /// Builds the callback table (the caller deletes it after creating the session; nghttp2 copies it).
    static func makeCallbacks() -> OpaquePointer? {
        var cbs: OpaquePointer?
        nghttp2_session_callbacks_new(&cbs)
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs) { _, frame, ud in
            H2Session.with(ud) { $0.onBeginHeaders(frame!) }
        }
        nghttp2_session_callbacks_set_on_header_callback(cbs) { _, frame, name, nameLen, value, valueLen, _, ud in
            H2Session.with(ud) {
                $0.onHeader(frame!, UnsafeRawBufferPointer(start: name, count: nameLen),
                            UnsafeRawBufferPointer(start: value, count: valueLen))
            }
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs) { _, frame, ud in
            H2Session.with(ud) { $0.onFrameRecv(frame!) }
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs) { _, _, id, data, len, ud in
            H2Session.with(ud) { session in
                session.withHandler { $0.streamData(stream: id, bytes: UnsafeRawBufferPointer(start: data, count: len)) }
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs) { _, id, errorCode, ud in
            H2Session.with(ud) { $0.onStreamClose(id, errorCode) }
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs) { _, frame, ud in
            H2Session.with(ud) { $0.onFrameSend(frame!) }
        }
        return cbs
    }

    /// A data provider whose read callback drains the stream's outbound queue.
    static func dataProvider() -> nghttp2_data_provider {
        nghttp2_data_provider(source: nghttp2_data_source(ptr: nil)) { _, id, buf, length, flags, _, ud in
            H2Session.with(ud) { $0.readData(id, buf!, length, flags!) }
        }
    }

    /// A header block begins: open the server's stream state, reset the header-list counters.
    func onBeginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        guard frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
        let id = frame.pointee.hd.stream_id
        var state = stream(id)
        if state == nil && isServer && frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
            let fresh = makeStream()
            attach(fresh, id: id)
            _ = nghttp2_session_set_stream_user_data(session, id, Unmanaged.passUnretained(fresh).toOpaque())
            state = fresh
        }
        guard let state else { return 0 }
        lastID = id
        last = Unmanaged.passUnretained(state)
        state.headerBytes = 0
        state.headerCount = 0
        state.rejected = false
        withHandler { $0.streamHeadersBegin(stream: id) }
        return 0
    }

    /// One decoded field: enforce the header-list caps, then forward.
    func onHeader(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafeRawBufferPointer,
                  _ value: UnsafeRawBufferPointer) -> Int32 {
        let id = frame.pointee.hd.stream_id
        // Once per field: borrow the stream state (the cached one, nearly always) instead of retaining it.
        if id == lastID, let last {
            return last._withUnsafeGuaranteedRef { onHeader(id, $0, name, value) }
        }
        guard let state = stream(id) else { return 0 }
        return onHeader(id, state, name, value)
    }

    private func onHeader(_ id: Int32, _ state: H2Stream, _ name: UnsafeRawBufferPointer,
                          _ value: UnsafeRawBufferPointer) -> Int32 {
        if state.rejected { return H2Session.resetThisStream }
        state.headerBytes += name.count + value.count + 32
        state.headerCount += 1
        if state.headerBytes > limits.maxHeaderListBytes || state.headerCount > limits.maxHeaderCount {
            // nghttp2 resets the stream (INTERNAL_ERROR) and decodes the rest of the block
            // without calling us: HPACK state stays in sync, nothing more is buffered.
            state.rejected = true
            handler.limitExceeded(stream: id, reason: state.headerBytes > limits.maxHeaderListBytes
                                  ? "header_list_too_large" : "too_many_headers")
            return H2Session.resetThisStream
        }
        withHandler { $0.streamHeader(stream: id, name: name, value: value) }
        return 0
    }

    /// A complete frame arrived.
    func onFrameRecv(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let hd = frame.pointee.hd
        let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(hd.type) {
        case NGHTTP2_HEADERS.rawValue:
            if withStream(hd.stream_id, missing: false, { $0.rejected }) { return 0 }
            let isTrailers = frame.pointee.headers.cat == NGHTTP2_HCAT_HEADERS
            withHandler { $0.streamHeadersEnd(stream: hd.stream_id, endStream: endStream, isTrailers: isTrailers) }
            if endStream { withHandler { $0.streamEnd(stream: hd.stream_id) } }
        case NGHTTP2_DATA.rawValue:
            if endStream { withHandler { $0.streamEnd(stream: hd.stream_id) } }
        case NGHTTP2_GOAWAY.rawValue:
            peerWentAway = true
            handler.goAwayReceived(lastStream: frame.pointee.goaway.last_stream_id,
                                   errorCode: frame.pointee.goaway.error_code)
        default:
            break
        }
        return 0
    }

    /// A stream closed: tell the handler, recycle the state.
    func onStreamClose(_ id: Int32, _ errorCode: UInt32) -> Int32 {
        if isServer { resetGuard.streamClosed(now: MonotonicClock.now()) }
        withHandler { $0.streamClosed(stream: id, errorCode: errorCode) }
        detach(id)
        return 0
    }

    /// A frame went out: count our resets (MadeYouReset guard), notice our own connection errors.
    /// Never read a HEADERS frame's `nva` here (nor in any send-side callback added later): a
    /// response head's fields point into storage its stream lets go when it closes, which can
    /// happen between packing the frame and this call (see `submitResponse`).
    func onFrameSend(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        let hd = frame.pointee.hd
        switch UInt32(hd.type) {
        case NGHTTP2_RST_STREAM.rawValue:
            if isServer && frame.pointee.rst_stream.error_code == H2ErrorCode.refusedStream && stream(hd.stream_id) == nil {
                handler.limitExceeded(stream: hd.stream_id, reason: "max_concurrent_streams")
            }
            // Server side only: there every stream is the peer's, so our resets are ones it caused.
            if isServer && resetGuard.localReset(now: MonotonicClock.now()) && !failed {
                failed = true
                handler.limitExceeded(stream: hd.stream_id, reason: "local_reset_flood")
                _ = nghttp2_session_terminate_session(session, H2ErrorCode.enhanceYourCalm)
            }
        case NGHTTP2_GOAWAY.rawValue:
            if frame.pointee.goaway.error_code != H2ErrorCode.noError { failed = true }
        case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
            // A stream asked to be reset once its END_STREAM frame is out (`resetAfterEnd`).
            if resetsAfterEnd > 0 && hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
                resetAfterEnd(hd.stream_id)
            }
        default:
            break
        }
        return 0
    }

    /// Sends the RST_STREAM `resetAfterEnd(stream:errorCode:)` asked for, unless the peer has ended its side.
    private func resetAfterEnd(_ id: Int32) {
        guard let code = withStream(id, missing: nil, { s -> UInt32? in
            let code = s.resetAfterEnd
            s.resetAfterEnd = nil
            return code
        }) else { return }
        resetsAfterEnd -= 1
        if nghttp2_session_get_stream_remote_close(session, id) == 0 {
            _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, code)
        }
    }

    /// Data source read callback: copy queued bytes, end the body when finished, else defer.
    func readData(_ id: Int32, _ buf: UnsafeMutablePointer<UInt8>, _ length: Int,
                  _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        withStream(id, missing: Int(H2Session.resetThisStream)) { readData(id, $0, buf, length, flags) }
    }

    private func readData(_ id: Int32, _ state: H2Stream, _ buf: UnsafeMutablePointer<UInt8>, _ length: Int,
                          _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        let n = min(length, state.queued)
        if n > 0 {
            UnsafeMutableRawPointer(buf).copyMemory(from: state.out!.readable.baseAddress!, byteCount: n)
            state.out!.consume(n)
        }
        if state.queued > 0 { return n }
        if state.finished {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if let trailers = state.trailers {
                state.trailers = nil
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                // Allowed inside the read callback; nghttp2 copies the fields.
                _ = withNV(trailers, status: false) { count in nghttp2_submit_trailer(session, id, nv, count) }
            }
            return n
        }
        if n > 0 { return n }
        state.deferred = true
        wantsData.append(id)
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    }
}
