import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceRouting
import SluiceStats

extension H2StreamExchange {
    /// Response bytes from the HTTP/1.1 backend.
    func handleUpstreamReadable() {
        guard let up = upstream else { return }
        if !machine.responseStarted {
            switch reader.readHead(&up.input, isHEAD: isHEAD) {
            case .incomplete: return
            case .invalid:
                handleUpstreamFailed(.protocolError)
                return
            case .head: break
            }
            guard machine.responseHead(status: reader.head.status, now: worker.loop.now) == .forward else { return }
            submitResponseHead(up.input.readable)
            reader.consumeHead(&up.input)
            if reader.isBodyless {
                upstreamResponseEnded(up, streamEnded: true)
                return
            }
        }
        let read: (taken: Int, done: Bool)
        do {
            let shadow = self.shadow
            read = try reader.readBody(up.input.readable) { piece in
                shadow?.appendPrimary(piece)
                withSession { $0.enqueueData(stream: id, bytes: piece) }
            }
        } catch {
            handleUpstreamFailed(.protocolError)
            return
        }
        up.input.consume(read.taken)
        if read.done {
            upstreamResponseEnded(up)
            return
        }
        armDeadline(machine.responseBody(now: worker.loop.now))
        if withSession({ $0.outboundQueued(stream: id) }) >= H2StreamExchange.streamHighWater { up.readPaused = true }
        connection.scheduleWrite()
    }

    /// The HTTP/1.1 backend's response is complete: the stream is ended and the machine decides the rest.
    /// `streamEnded`: the HEADERS already carried END_STREAM (a bodyless response).
    private func upstreamResponseEnded(_ up: UpstreamConnection, streamEnded: Bool = false) {
        if !streamEnded { _ = withSession { $0.finishData(stream: id) } }
        let reusable = reader.head.keepAlive && up.input.isEmpty && up.output.isEmpty && !up.peerClosed && !reader.endsAtClose
        perform(machine.responseEnd(now: worker.loop.now, upstreamReusable: reusable))
        connection.scheduleWrite()
    }

    /// Sets the stream's deadline to `d`.
    @inline(__always)
    func armDeadline(_ d: UInt64) { deadline = d }

    var isHEAD: Bool {
        Bytes.equal(UnsafeRawBufferPointer(rebasing: headers.bytes[headers.method]), "HEAD")
    }

    private func submitResponseHead(_ buf: UnsafeRawBufferPointer) {
        status = reader.head.status
        responseHeaders.removeAll()
        let hasRequestID = ForwardedResponse.copyFields(HTTP2Head.self, &reader.head, buf, into: &responseHeaders)
        ForwardedResponse.addSluiceFields(HTTP2Head.self, into: &responseHeaders, snapshot: snapshot!, backend: decision.backend,
                                          requestID: requestID, backendSentRequestID: hasRequestID)
        let bodyless = reader.isBodyless
        withSession { $0.submitResponse(stream: id, status: status, headers: responseHeaders, endStream: bodyless) }
        // From the head on, body_idle_timeout may come before the request timeout: tell the connection.
        if !bodyless { armFirstDeadline() }
    }

    func handleUpstreamEOF() {
        if machine.responseStarted, reader.endsAtClose, let up = upstream {
            upstreamResponseEnded(up)
            return
        }
        handleUpstreamFailed(.reset)
    }

    /// The client can take more DATA on this stream: resume the upstream.
    func downstreamWantsData() {
        creditUpstream()
        if let up = upstream, up.readPaused {
            up.readPaused = false
            up.readAvailable()
        }
    }

    /// The upstream failed: the machine decides between one retry on a fresh connection (a stale
    /// pooled one), an answer, and a cut.
    func handleUpstreamFailed(_ failure: UpstreamFailure, streamGone: Bool = false) {
        let endpoint = upstream?.endpoint ?? h2Upstream?.endpoint
        let replayable = self.replayable && (upstream?.input.isEmpty ?? false)
        perform(machine.upstreamFailed(Worker.exchangeError(failure, endpoint: endpoint), now: worker.loop.now,
                                       replayable: replayable, upstreamGone: streamGone))
    }

    /// Sends the kept copy of the request once more, on a fresh connection.
    func retryOnFreshConnection() {
        guard let snapshot else { return }
        replayable = false
        let stale = upstream
        upstream = nil
        let fresh = worker.retry(closing: stale, backend: decision.backend, owner: self, snapshot: snapshot)
        upstream = fresh
        if fresh.state == .closed {
            handleUpstreamFailed(.connect)
            return
        }
        worker.replay(replay, on: fresh)
    }

    /// Lets go of the upstream side (``Worker/release(_:h1:h2:stream:unconsumed:)``).
    @inline(__always)
    func releaseUpstream(_ how: UpstreamRelease) {
        worker.release(how, h1: &upstream, h2: &h2Upstream, stream: h2Stream, unconsumed: &upstreamUnconsumed)
        // Request DATA held back while the upstream was full would have been credited when it
        // drained; it never will now, and a client still sending would wait for that window forever.
        creditHeldRequestData()
    }

    /// An answer or a cut: counted, the upstream let go, recorded, then the client answered (a JSON
    /// or gRPC trailers-only response) or the stream cut (gRPC: trailers with the matching status,
    /// so a stalled backend gives DEADLINE_EXCEEDED, not INTERNAL; otherwise a reset, so the client
    /// never takes a truncated body as complete).
    func endWithError(_ error: ExchangeError, _ end: ExchangeEnd, answer: Bool) {
        // The backend's name comes from the snapshot the stream was routed with (decision indexes it).
        let routedWith = self.snapshot
        let name = machine.isRouted ? routedWith?.table.backends[decision.backend].name ?? "" : ""
        let message = error.message(backend: name, bodyLimit: machine.bodyLimit)
        // An HTTP/2 connection reports its own connect failures, once for all its streams.
        worker.count(error, endpoint: upstream?.endpoint, snapshot: routedWith ?? worker.snapshot)
        releaseUpstream(end.upstream)
        if let o = end.outcome { record(o) }
        if answer {
            respondError(status: error.status, code: error.code, message: message)
            return
        }
        if headers.isGRPC {
            trailers.removeAll()
            trailers.append(name: "grpc-status", value: GRPCStatus.code(forHTTPStatus: error.status))
            trailers.append(name: "grpc-message", value: message)
            _ = session.finishData(stream: id, trailers: trailers)
            // The call failed, and its client still sends: once the trailers are out, its half is
            // closed too with RST_STREAM NO_ERROR (RFC 9113 §8.1); submitted now, the reset would
            // overtake the trailers and the client would see INTERNAL instead of the status. Should
            // the trailers never leave (a client that reads nothing), the stream is reset at body idle.
            if end.client == .cancel {
                session.resetAfterEnd(stream: id, errorCode: H2ErrorCode.noError)
                armFirstDeadline(worker.loop.now &+ (routedWith ?? worker.snapshot).limits.bodyIdleTimeoutNanos)
            }
        } else {
            session.resetStream(id, errorCode: H2ErrorCode.internalError)
        }
        connection.scheduleWrite()
    }

    /// Answers with an error Sluice produced (no upstream involved or it failed before answering).
    func respondError(status code: Int, code errorCode: String, message: String) {
        worker.increment(.localErrorResponses)
        status = code
        responseHeaders.removeAll()
        requestID.withUnsafeBytes { responseHeaders.append(name: "x-request-id", value: $0) }
        if headers.isGRPC {
            // gRPC callers get a trailers-only response with the matching status.
            responseHeaders.append(name: "content-type", value: "application/grpc")
            responseHeaders.append(name: "grpc-status", value: GRPCStatus.code(forHTTPStatus: code))
            responseHeaders.append(name: "grpc-message", value: message)
            session.submitResponse(stream: id, status: 200, headers: responseHeaders, endStream: true)
        } else {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: "{\"error\":\"".utf8)
            HTTP1Encoder.appendJSONEscaped(errorCode.utf8, to: &scratch)
            scratch.append(contentsOf: "\",\"message\":\"".utf8)
            HTTP1Encoder.appendJSONEscaped(message.utf8, to: &scratch)
            scratch.append(contentsOf: "\",\"request_id\":\"".utf8)
            HTTP1Encoder.appendJSONEscaped(requestID, to: &scratch)
            scratch.append(contentsOf: "\"}".utf8)
            responseHeaders.append(name: "content-type", value: "application/json")
            responseHeaders.append(name: "content-length", value: String(scratch.count))
            session.submitResponse(stream: id, status: code, headers: responseHeaders, endStream: false)
            scratch.withUnsafeBytes { _ = session.enqueueData(stream: id, bytes: $0) }
            _ = session.finishData(stream: id)
        }
        // The client may still be sending: the stream stays bounded (body idle) until it ends.
        machine.answerSent(now: worker.loop.now)
        creditHeldRequestData()
        armFirstDeadline()
        connection.scheduleWrite()
    }

    /// The response is complete: the endpoint reported, the outcome recorded, the upstream let go.
    func finishExchange(_ end: ExchangeEnd) {
        if let snapshot { worker.reportResponse(status: machine.status, h1: upstream, h2: h2Upstream, routedWith: snapshot) }
        if let o = end.outcome { record(o) }
        releaseUpstream(end.upstream)
        // An HTTP/2 client still sending after the answer: what it sends is taken and dropped (its
        // window credited, see `releaseUpstream`), bounded by body idle until it ends the stream.
        if end.client == .awaitRequestEnd { armFirstDeadline() }
    }

    /// Counts the exchange in its target's stats.
    func record(_ outcome: ExchangeOutcome) {
        guard let snapshot else { return }
        self.snapshot = nil
        let micros = worker.record(outcome, decision: decision, startedAt: startedAt, snapshot: snapshot, shadow: &shadow)
        if logged {
            logged = false
            let buf = headers.bytes
            worker.writeAccessLog(method: UnsafeRawBufferPointer(rebasing: buf[headers.method]),
                                  path: UnsafeRawBufferPointer(rebasing: buf[headers.pathRange]), requestID: requestID,
                                  client: connection.peerIP, decision: decision, snapshot: snapshot, status: outcome.status, micros: micros)
        }
    }

    /// Request DATA held back from the client's window (the upstream was slow) is credited now.
    @inline(__always)
    func creditHeldRequestData() {
        if unconsumed > 0 {
            session.consume(stream: id, unconsumed)
            unconsumed = 0
        }
    }

    /// The client reset or the stream closed normally.
    func closedByPeer(errorCode: UInt32) {
        // nghttp2 credits the connection even for a closed stream: held bytes are never lost.
        creditHeldRequestData()
        if peek != nil { endPeek(credit: true) }
        deadline = 0
        if machine.isActive && machine.isRouted { worker.increment(.clientDisconnects) }
        perform(machine.clientGone())
        // Whatever is still held goes (a shadow copy not yet told, an upstream of an exchange over).
        releaseUpstream(.resetStream)
        snapshot = nil
    }

    /// The connection is going away.
    func abort() { closedByPeer(errorCode: H2ErrorCode.cancel) }
}

/// The gRPC status a caller gets for an answer Sluice makes itself (trailers-only, or the
/// trailers of a response cut short).
enum GRPCStatus {
    /// `grpc-status` for HTTP status `code`: 504 and 408 DEADLINE_EXCEEDED (4), 502/503
    /// UNAVAILABLE (14), 404 UNIMPLEMENTED (12), 413 RESOURCE_EXHAUSTED (8), else INTERNAL (13).
    static func code(forHTTPStatus code: Int) -> StaticString {
        switch code {
        case 504, 408: return "4"
        case 502, 503: return "14"
        case 404: return "12"
        case 413: return "8"
        default: return "13"
        }
    }
}
