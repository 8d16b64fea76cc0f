import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceRouting

/// HTTP/2 downstream stream → HTTP/2 upstream stream (gRPC and other h2 backends):
/// headers, DATA and trailers pass through; windows are credited on each side only as
/// the other side takes the bytes.
extension H2StreamExchange {
    func startH2Upstream(snapshot: ProxySnapshot, endStream: Bool) {
        let endpoint = worker.nextEndpoint(backend: decision.backend)
        let timeouts = snapshot.table.backends[decision.backend].timeouts
        guard let conn = worker.h2Pools[endpoint].acquire(worker: worker, connectTimeout: timeouts.connectNanos, idleTimeout: timeouts.idleNanos) else {
            handleUpstreamFailed(.connect)
            return
        }
        ForwardedHead.write(HTTP2Head.self, clientHead(), fields: headers.fields, into: &responseHeaders)
        guard let id = conn.openStream(headers: responseHeaders, endStream: endStream, owner: self) else {
            handleUpstreamFailed(.connect)
            return
        }
        responseHeaders.removeAll()
        h2Upstream = conn
        h2Stream = id
    }

    func requestDataH2(_ bytes: UnsafeRawBufferPointer, _ h2: H2UpstreamConnection) {
        h2.session.enqueueData(stream: h2Stream, bytes: bytes)
        if h2.session.outboundQueued(stream: h2Stream) < H2StreamExchange.streamHighWater {
            session.consume(stream: id, bytes.count)
        } else {
            unconsumed += bytes.count
        }
        h2.scheduleWrite()
    }

    /// The backend's stream can take more: credit the client for what we held back.
    func h2WantsData() {
        if unconsumed > 0 {
            session.consume(stream: id, unconsumed)
            unconsumed = 0
            connection.scheduleWrite()
        }
    }

    func h2Header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, isTrailers: Bool) {
        if Bytes.equal(name, "grpc-status") {
            grpcStatus = value.count == 1 && value[0] == UInt8(ascii: "0") ? 0 : 1
        }
        if isTrailers {
            trailers.append(name: name, value: value)
            return
        }
        if Bytes.equal(name, ":status") {
            var code = 0
            for c in value where c >= 48 && c <= 57 { code = code * 10 + Int(c - 48) }
            status = code
            return
        }
        if name.first == UInt8(ascii: ":") { return }
        if name.count == 12 && Bytes.equal(name, "x-request-id") { upstreamSentRequestID = true }
        responseHeaders.append(name: name, value: value)
    }

    func h2HeadersEnd(endStream: Bool, isTrailers: Bool) {
        if isTrailers { return }
        if status < 200 {
            // Informational: not forwarded; wait for the final head.
            responseHeaders.removeAll()
            upstreamSentRequestID = false
            return
        }
        guard let snapshot, machine.responseHead(status: status, now: worker.loop.now) == .forward else { return }
        ForwardedResponse.addSluiceFields(HTTP2Head.self, into: &responseHeaders, snapshot: snapshot, backend: decision.backend,
                                          requestID: requestID, backendSentRequestID: upstreamSentRequestID)
        session.submitResponse(stream: id, status: status, headers: responseHeaders, endStream: endStream)
        if endStream {
            h2ResponseEnded()
        } else {
            // From the head on, body_idle_timeout may come before the request timeout: tell the connection.
            armFirstDeadline()
        }
        connection.scheduleWrite()
    }

    func h2Data(_ bytes: UnsafeRawBufferPointer) {
        guard let h2 = h2Upstream else { return }
        armDeadline(machine.responseBody(now: worker.loop.now))
        session.enqueueData(stream: id, bytes: bytes)
        if session.outboundQueued(stream: id) < H2StreamExchange.streamHighWater {
            h2.session.consume(stream: h2Stream, bytes.count)
        } else {
            upstreamUnconsumed += bytes.count
        }
        connection.scheduleWrite()
    }

    /// The client took our queued DATA: credit the backend for what we held back.
    func creditUpstream() {
        guard let h2 = h2Upstream, upstreamUnconsumed > 0 else { return }
        h2.session.consume(stream: h2Stream, upstreamUnconsumed)
        upstreamUnconsumed = 0
        h2.scheduleWrite()
    }

    func h2End() {
        guard h2Upstream != nil, machine.isActive, machine.responseStarted else { return }
        _ = session.finishData(stream: id, trailers: trailers.isEmpty ? nil : trailers)
        h2ResponseEnded()
        connection.scheduleWrite()
    }

    func h2Closed(errorCode: UInt32) {
        guard h2Upstream != nil else { return }
        if errorCode != 0 || !machine.responseStarted || !machine.isActive {
            // A reset (or a close before any answer) fails the exchange; a stream already over is just let go.
            if machine.isActive {
                handleUpstreamFailed(.reset, streamGone: true)
            } else {
                releaseUpstream(.endStream)
            }
            return
        }
        // Closed without END_STREAM seen after the head: the answer ends here.
        _ = session.finishData(stream: id)
        h2ResponseEnded()
    }

    /// Response complete: a gRPC status other than 0 counts as an error even with HTTP 200.
    private func h2ResponseEnded() {
        perform(machine.responseEnd(now: worker.loop.now, upstreamReusable: true, failed: grpcStatus != 0))
    }
}
