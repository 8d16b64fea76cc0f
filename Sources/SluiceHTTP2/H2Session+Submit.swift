import CNghttp2
import SluiceCore

/// Outbound side: submitting headers, queueing DATA, trailers, resets and GOAWAY.
extension H2Session {
    /// Server side: submits the response head for `stream`. With `endStream` false, the body
    /// follows through `enqueueData` and ends with `finishData`. Returns false if nghttp2 refused
    /// (stream gone, or headers invalid).
    ///
    /// The fields are not copied: nghttp2 reads them from the block's storage when it writes the
    /// HEADERS frame (copying and lower-casing every name and value again cost ~900 instructions
    /// per response). The stream keeps that storage until it closes, and the block is
    /// copy-on-write, so whatever the caller does with its block afterwards (clear it, refill it,
    /// drop it) leaves the submitted fields as they were. A closed stream's queued HEADERS are
    /// dropped by nghttp2 unread. Names must be lowercase (``H2HeaderBlock`` makes them so).
    @discardableResult
    public func submitResponse(stream id: Int32, status: Int, headers: H2HeaderBlock, endStream: Bool) -> Bool {
        withStream(id, missing: false) { submitResponse(id, $0, status: status, headers: headers, endStream: endStream) }
    }

    private func submitResponse(_ id: Int32, _ stream: H2Stream, status: Int, headers: H2HeaderBlock, endStream: Bool) -> Bool {
        let code = min(max(status, 100), 999)
        statusDigits[0] = UInt8(48 + code / 100)
        statusDigits[1] = UInt8(48 + code / 10 % 10)
        statusDigits[2] = UInt8(48 + code % 10)
        stream.submittedHead = headers.storage
        let rv: Int32 = withNV(headers, status: true, referenced: true) { count in
            if endStream { return nghttp2_submit_response(session, id, nv, count, nil) }
            var provider = H2Session.dataProvider()
            return nghttp2_submit_response(session, id, nv, count, &provider)
        }
        if rv == 0 && !endStream { stream.hasProvider = true }
        return rv == 0
    }

    /// Client side: opens a stream with `headers` (pseudo-headers first: :method, :scheme,
    /// :authority, :path). Returns the stream id, or a negative value when the peer's
    /// concurrency limit is reached (-1), the session is ending (-2), or nghttp2 refused
    /// (its error code, e.g. stream ids exhausted).
    public func submitRequest(headers: H2HeaderBlock, endStream: Bool) -> Int32 {
        guard !isServer else { return -1 }
        guard !failed, !peerWentAway, !localGoAway else { return -2 }
        guard streams.count < remoteMaxConcurrentStreams else { return -1 }
        let stream = makeStream()
        let userData = Unmanaged.passUnretained(stream).toOpaque()
        let id: Int32 = withNV(headers, status: false) { count in
            if endStream { return nghttp2_submit_request(session, nil, nv, count, nil, userData) }
            var provider = H2Session.dataProvider()
            return nghttp2_submit_request(session, nil, nv, count, &provider, userData)
        }
        stream.hasProvider = id > 0 && !endStream
        guard id > 0 else {
            stream.recycle()
            pool.append(stream)
            return id
        }
        attach(stream, id: id)
        return id
    }

    /// Copies `bytes` into the stream's outbound queue (the caller bounds it with
    /// `outboundQueued`) and resumes a stalled body. Returns false when the stream has no body
    /// to send (closed, reset, submitted with END_STREAM, or already finished).
    @discardableResult
    public func enqueueData(stream id: Int32, bytes: UnsafeRawBufferPointer) -> Bool {
        withStream(id, missing: false) { stream in
            guard stream.hasProvider, !stream.finished else { return false }
            if bytes.count > 0 {
                stream.enqueue(bytes)
                resume(stream)
            }
            return true
        }
    }

    /// Ends the body after the queued DATA: END_STREAM on the last DATA frame, or, with
    /// `trailers`, a trailing HEADERS frame with END_STREAM (gRPC's grpc-status/grpc-message).
    @discardableResult
    public func finishData(stream id: Int32, trailers: H2HeaderBlock? = nil) -> Bool {
        withStream(id, missing: false) { stream in
            guard stream.hasProvider, !stream.finished else { return false }
            stream.finished = true
            if let trailers, !trailers.isEmpty { stream.trailers = trailers }
            resume(stream)
            return true
        }
    }

    /// Server side: once the frame that ends this side of `stream` (the response's END_STREAM,
    /// already submitted or about to be) went out, RST_STREAM with `errorCode` follows if the
    /// peer's half is still open: the way to stop a client that still sends after a complete
    /// response (RFC 9113 §8.1, with NO_ERROR). Resetting at once would overtake the queued DATA
    /// and trailers, and the client would never see them.
    public func resetAfterEnd(stream id: Int32, errorCode: UInt32) {
        withStream(id, missing: ()) { stream in
            if stream.resetAfterEnd == nil { resetsAfterEnd += 1 }
            stream.resetAfterEnd = errorCode
        }
    }

    /// Bytes queued for `stream` and not yet serialized (0 for unknown streams): for backpressure.
    public func outboundQueued(stream id: Int32) -> Int {
        withStream(id, missing: 0) { $0.queued }
    }

    /// Returns `n` received DATA bytes of `stream` to the flow-control windows (stream and
    /// connection) once they were forwarded; WINDOW_UPDATE follows on the next flush.
    /// Safe after the stream closed (the connection window is still credited).
    public func consume(stream id: Int32, _ n: Int) {
        guard n > 0 else { return }
        _ = nghttp2_session_consume(session, id, n)
    }

    /// Sends RST_STREAM for `stream` with `errorCode` (see `H2ErrorCode`).
    public func resetStream(_ id: Int32, errorCode: UInt32) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, errorCode)
    }

    /// Graceful GOAWAY: the last stream id is the last one processed, so in-flight streams
    /// finish; the connection can close once `wantsRead` and `wantsWrite` are both false.
    public func goAway(errorCode: UInt32 = H2ErrorCode.noError) {
        localGoAway = true
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                                  nghttp2_session_get_last_proc_stream_id(session), errorCode, nil, 0)
    }

    /// Resumes a deferred data provider.
    func resume(_ stream: H2Stream) {
        if stream.deferred {
            stream.deferred = false
            _ = nghttp2_session_resume_data(session, stream.id)
        }
    }

    /// Fills `nv` from `headers` (after ":status" when `status`) and calls `body` with the
    /// entry count while the entries, which point into the block's storage, are valid. With
    /// `referenced`, nghttp2 is told not to copy the fields' bytes: the caller keeps the storage
    /// alive and unchanged until the frame is written (see `submitResponse`).
    func withNV<R>(_ headers: H2HeaderBlock, status: Bool, referenced: Bool = false, _ body: (Int) -> R) -> R {
        let count = headers.count + (status ? 1 : 0)
        reserveNV(count)
        let noCopy = UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        let none = referenced ? noCopy : UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
        let neverIndex = none | UInt8(NGHTTP2_NV_FLAG_NO_INDEX.rawValue)
        var i = 0
        if status {
            // The name is static; the digits are the session's and change with the next
            // response, so nghttp2 copies them.
            let name: StaticString = ":status"
            nv[0] = nghttp2_nv(name: UnsafeMutablePointer(mutating: name.utf8Start), value: statusDigits,
                               namelen: name.utf8CodeUnitCount, valuelen: 3,
                               flags: UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue))
            i = 1
        }
        let storage = headers.storage
        let base = storage.bytes.assumingMemoryBound(to: UInt8.self)
        for k in 0..<storage.fieldCount {
            let f = storage.fields[k]
            nv[i] = nghttp2_nv(name: base + Int(f.nameStart), value: base + Int(f.valueStart),
                               namelen: Int(f.nameCount), valuelen: Int(f.valueCount),
                               flags: f.neverIndex ? neverIndex : none)
            i += 1
        }
        return withExtendedLifetime(storage) { body(i) }
    }
}
