import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceRouting
import SluiceStats

extension H2StreamExchange {
    /// Response bytes from the HTTP/1.1 backend.
    func handleUpstreamReadable() {
        guard let up = upstream else { return }
        if !responseStarted {
            while true {
                switch parser.parse(up.input.readable, requestWasHEAD: isHEAD, into: &responseHead) {
                case .incomplete: return
                case .error: handleUpstreamFailed(.protocolError); return
                case .complete:
                    if responseHead.status < 200 {
                        if responseHead.status == 101 { handleUpstreamFailed(.protocolError); return }
                        up.input.consume(responseHead.headLength)
                        parser.reset()
                        continue
                    }
                }
                break
            }
            submitResponseHead(up.input.readable)
            up.input.consume(responseHead.headLength)
            parser.reset()
        }
        forwardBody(up)
        if !responseDone { armDeadline() }
        if responseDone {
            _ = session.finishData(stream: id)
            finish()
        } else if session.outboundQueued(stream: id) >= H2StreamExchange.streamHighWater {
            up.readPaused = true
        }
        connection.scheduleWrite()
    }

    var isHEAD: Bool {
        AttributeScan.equals(UnsafeRawBufferPointer(rebasing: headers.bytes[headers.method]), "HEAD")
    }

    private func submitResponseHead(_ buf: UnsafeRawBufferPointer) {
        responseStarted = true
        status = responseHead.status
        responseHeaders.removeAll()
        var hasRequestID = false
        for f in responseHead.fields {
            if responseHead.isHopByHop(buf, f) { continue }
            if fieldNameEquals(buf, f, "x-request-id") { hasRequestID = true }
            responseHeaders.appendLowercasingName(name: f.name(in: buf), value: f.value(in: buf))
        }
        let snapshot = self.snapshot!
        snapshot.backendNames[decision.backend].withUnsafeBytes { responseHeaders.append(name: "x-sluice-target", value: $0) }
        let version = snapshot.modelVersions[decision.backend]
        if !version.isEmpty { version.withUnsafeBytes { responseHeaders.append(name: "x-model-version", value: $0) } }
        if !hasRequestID { requestID.withUnsafeBytes { responseHeaders.append(name: "x-request-id", value: $0) } }
        switch responseHead.framing {
        case .none: responseMode = .none
        case .contentLength(let n): responseMode = n == 0 ? .none : .length(n)
        case .chunked: responseMode = .chunkedDecoded; chunks.reset()
        case .untilClose: responseMode = .closeDelimited(rechunk: false)
        }
        responseDone = responseMode == .none
        session.submitResponse(stream: id, status: status, headers: responseHeaders, endStream: responseDone)
        // From the head on, body_idle_timeout may come before the request timeout: tell the connection.
        if !responseDone { armFirstDeadline(now: worker.loop.now) }
        if responseDone {
            finish()
            connection.scheduleWrite()
        }
    }

    private func forwardBody(_ up: UpstreamConnection) {
        switch responseMode {
        case .none:
            return
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(up.input.count)))
            if n > 0 {
                shadow?.appendPrimary(UnsafeRawBufferPointer(rebasing: up.input.readable[0..<n]))
                session.enqueueData(stream: id, bytes: UnsafeRawBufferPointer(rebasing: up.input.readable[0..<n]))
                up.input.consume(n)
            }
            responseMode = .length(remaining - UInt64(n))
            if remaining == UInt64(n) { responseDone = true }
        case .chunkedDecoded, .chunkedPassThrough:
            ranges.removeAll(keepingCapacity: true)
            do {
                let n = try chunks.consume(up.input.readable, payload: &ranges)
                for r in ranges {
                    let piece = UnsafeRawBufferPointer(rebasing: up.input.readable[r])
                    shadow?.appendPrimary(piece)
                    session.enqueueData(stream: id, bytes: piece)
                }
                up.input.consume(n)
                if chunks.isFinished { responseDone = true }
            } catch {
                handleUpstreamFailed(.protocolError)
            }
        case .closeDelimited:
            if up.input.count > 0 {
                shadow?.appendPrimary(up.input.readable)
                session.enqueueData(stream: id, bytes: up.input.readable)
                up.input.consume(up.input.count)
            }
        }
    }

    func handleUpstreamEOF() {
        if responseStarted, case .closeDelimited = responseMode {
            responseDone = true
            _ = session.finishData(stream: id)
            finish()
            connection.scheduleWrite()
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

    func handleUpstreamFailed(_ failure: UpstreamFailure) {
        guard let snapshot else { return }
        let name = snapshot.table.backends[decision.backend].name
        if failure == .reset, replayable, !responseStarted, let up = upstream, up.input.isEmpty {
            replayable = false
            upstream = nil
            up.closeNow(loop: worker.loop)
            snapshot.global.increment(.upstreamRetries, worker: worker.index)
            let fresh = worker.openUpstream(backend: decision.backend, owner: self)
            upstream = fresh
            fresh.output.append(replay)
            switch fresh.state {
            case .closed: break   // reported below as a connect failure
            case .active:
                fresh.flush()
                return
            default:
                return
            }
            handleUpstreamFailed(.connect)
            return
        }
        if failure == .connect, let up = upstream {
            if up.endpoint == Worker.noHealthyEndpoint {
                fail(status: 503, code: "no_healthy_upstream", message: "no healthy endpoint in backend \(name)", isError: true)
                return
            }
            worker.reportConnectFailure(endpoint: up.endpoint, snapshot: snapshot)
        }
        let a = failure.answer(backend: name)
        snapshot.global.increment(a.counter, worker: worker.index)
        fail(status: a.status, code: a.code, message: a.message, isError: true)
    }

    /// Ends the exchange with an error: a JSON (or gRPC trailers-only) answer if nothing was
    /// sent yet, otherwise a stream reset so the client never takes a truncated body as complete.
    func fail(status code: Int, code errorCode: String, message: String, isError: Bool) {
        cancelH2Upstream()
        if let up = upstream {
            upstream = nil
            up.closeNow(loop: worker.loop)
        }
        if responseStarted {
            record(status: 0, isError: true)
            if headers.isGRPC && !responseDone {
                // A gRPC caller gets the matching status in trailers, not a bare reset (which its
                // library reports as INTERNAL): after a timeout, DEADLINE_EXCEEDED.
                responseDone = true
                trailers.removeAll()
                trailers.append(name: "grpc-status", value: GRPCStatus.code(forHTTPStatus: code))
                trailers.append(name: "grpc-message", value: message)
                _ = session.finishData(stream: id, trailers: trailers)
            } else {
                session.resetStream(id, errorCode: H2ErrorCode.internalError)
            }
        } else {
            record(status: code, isError: isError)
            respondError(status: code, code: errorCode, message: message)
        }
        connection.scheduleWrite()
    }

    /// Answers with an error Sluice produced (no upstream involved or it failed before answering).
    func respondError(status code: Int, code errorCode: String, message: String) {
        worker.snapshot.global.increment(.localErrorResponses, worker: worker.index)
        responseStarted = true
        responseDone = true
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
        if !requestDone {
            // Not routed: only the body idle rule applies.
            if !routed { timer.start(request: worker.snapshot.limits.bodyIdleTimeoutNanos, bodyIdle: worker.snapshot.limits.bodyIdleTimeoutNanos) }
            armFirstDeadline(now: worker.loop.now)
        }
        connection.scheduleWrite()
    }

    /// The response is complete: record it and park the upstream connection.
    func finish() {
        if let up = upstream, let snapshot { worker.reportEndpointResponse(endpoint: up.endpoint, status: status, snapshot: snapshot) }
        record(status: status, isError: false)
        guard let up = upstream else { return }
        upstream = nil
        if requestDone, responseHead.keepAlive, up.input.isEmpty, !up.peerClosed, responseMode != .closeDelimited(rechunk: false) {
            up.home.release(up, now: worker.loop.now, loop: worker.loop)
        } else {
            up.closeNow(loop: worker.loop)
        }
    }

    func record(status code: Int, isError: Bool) {
        guard let snapshot else { return }
        self.snapshot = nil
        if let s = shadow {
            shadow = nil
            s.primaryFinished(status: isError ? 0 : code)
        }
        guard routed else { return }
        let now = worker.loop.now
        snapshot.targetStats[decision.route][decision.target].recordResponse(
            worker: worker.index, nowSecond: now / 1_000_000_000, status: code,
            isError: isError || code >= 500, latencyMicros: (now &- startedAt) / 1000)
    }

    /// The client reset or the stream closed normally.
    func closedByPeer(errorCode: UInt32) {
        // Request DATA held back from the client's window (the backend was slow) is credited to
        // the connection now: nghttp2 credits the connection even for a closed stream.
        if unconsumed > 0 {
            session.consume(stream: id, unconsumed)
            unconsumed = 0
        }
        deadline = 0
        if h2Upstream != nil {
            cancelH2Upstream()
            record(status: 0, isError: false)
            worker.snapshot.global.increment(.clientDisconnects, worker: worker.index)
        }
        if let up = upstream {
            upstream = nil
            up.closeNow(loop: worker.loop)
            record(status: 0, isError: false)
            worker.snapshot.global.increment(.clientDisconnects, worker: worker.index)
        }
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
