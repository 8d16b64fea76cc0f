import SluiceCore
import SluiceHTTP1
import SluiceRouting
import SluiceStats

extension DownstreamConnection {
    /// Bytes arrived from the backend: parse the head once, then forward the body.
    func handleUpstreamReadable() {
        guard let up = upstream else { return }
        if !exchange.machine.responseStarted {
            switch reader.readHead(&up.input, isHEAD: exchange.isHEAD) {
            case .incomplete: return
            case .invalid:
                upstreamFailed(.protocolError)
                return
            case .head: break
            }
            guard exchange.machine.responseHead(status: reader.head.status, now: worker.loop.now) == .forward else { return }
            // A backend answering before the request body ended: this connection cannot take another request.
            if !exchange.machine.requestDone { exchange.clientKeepAlive = false }
            writeResponseHead(up.input.readable)
            reader.consumeHead(&up.input)
        }
        guard let done = forwardResponseBody(up) else { return }
        if !done { deadline = exchange.machine.responseBody(now: worker.loop.now) }
        flushOutput()
        if phase != .exchange { return }
        if done {
            responseEnded(upstreamReusable: exchange.responseKeepAlive && up.input.isEmpty && up.output.isEmpty && !up.peerClosed)
        } else if pendingOutput >= DownstreamConnection.highWater {
            up.readPaused = true
        }
    }

    /// Forwards what the backend sent of the body; whether it is complete, nil when the exchange
    /// was ended (bad chunk framing).
    private func forwardResponseBody(_ up: UpstreamConnection) -> Bool? {
        let mode = exchange.responseBody
        let shadow = exchange.shadow
        let read: (taken: Int, done: Bool)
        do {
            read = try reader.readBody(up.input.readable) { piece in
                shadow?.appendPrimary(piece)
                switch mode {
                case .none, .chunkedPassThrough: break
                case .length, .chunkedDecoded: output.append(piece)
                case .closeDelimited(let rechunk):
                    if rechunk { output.appendHexChunkHeader(piece.count) }
                    output.append(piece)
                    if rechunk { output.append("\r\n") }
                }
            }
        } catch {
            upstreamFailed(.protocolError)
            return nil
        }
        // Chunks pass through as the backend framed them (validated by the reader).
        if mode == .chunkedPassThrough { output.append(UnsafeRawBufferPointer(rebasing: up.input.readable[0..<read.taken])) }
        up.input.consume(read.taken)
        return read.done
    }

    /// Status line and headers for the client: hop-by-hop dropped, Sluice's headers added.
    private func writeResponseHead(_ buffer: UnsafeRawBufferPointer) {
        let snapshot = exchange.snapshot!
        // Scalars read from the reader's head in place (a copy of the head retains its arrays).
        let status = reader.head.status
        exchange.responseKeepAlive = reader.head.keepAlive
        output.append("HTTP/1.1 ")
        output.appendDecimal(UInt64(status))
        output.append(byte: 32)
        let reasonStart = reader.head.reasonStart, reasonLength = reader.head.reasonLength
        if reasonLength > 0 {
            output.append(UnsafeRawBufferPointer(rebasing: buffer[reasonStart..<(reasonStart + reasonLength)]))
        }
        output.append("\r\n")
        let hasRequestID = ForwardedResponse.copyFields(HTTP1Head.self, &reader.head, buffer, into: &output)
        let http10 = exchange.clientMinor == 0
        switch reader.head.framing {
        case .none:
            exchange.responseBody = .none
        case .contentLength(let n):
            exchange.responseBody = n == 0 ? .none : .length
        case .chunked:
            if http10 {
                exchange.responseBody = .chunkedDecoded
                exchange.clientKeepAlive = false
            } else {
                exchange.responseBody = .chunkedPassThrough
                output.append("transfer-encoding: chunked\r\n")
            }
        case .untilClose:
            exchange.responseKeepAlive = false
            if http10 {
                exchange.responseBody = .closeDelimited(rechunk: false)
                exchange.clientKeepAlive = false
            } else {
                exchange.responseBody = .closeDelimited(rechunk: true)
                output.append("transfer-encoding: chunked\r\n")
            }
        }
        appendSluiceHeaders(snapshot, hasRequestID: hasRequestID)
    }

    /// The end of every response head Sluice forwards: x-sluice-target, x-model-version,
    /// x-request-id (unless the backend sent one), the connection decision, blank line.
    func appendSluiceHeaders(_ snapshot: ProxySnapshot, hasRequestID: Bool) {
        ForwardedResponse.addSluiceFields(HTTP1Head.self, into: &output, snapshot: snapshot, backend: exchange.decision.backend,
                                          requestID: exchange.requestID, backendSentRequestID: hasRequestID)
        if !exchange.clientKeepAlive {
            output.append("connection: close\r\n\r\n")
        } else if exchange.clientMinor == 0 {
            output.append("connection: keep-alive\r\n\r\n")
        } else {
            output.append("\r\n")
        }
    }

    /// The backend closed its side.
    func handleUpstreamEOF() {
        guard upstream != nil else { return }
        if exchange.machine.responseStarted, case .closeDelimited(let rechunk) = exchange.responseBody {
            if rechunk { output.append("0\r\n\r\n") }
            flushOutput()
            if phase == .exchange { responseEnded(upstreamReusable: false) }
            return
        }
        upstreamFailed(.reset)
    }

    /// The upstream exchange failed: the machine decides between one retry on a fresh
    /// connection (a stale pooled one), an answer, and a cut.
    func handleUpstreamFailed(_ failure: UpstreamFailure) {
        if exchange.h2Upstream != nil {
            failH2(failure, streamGone: false)
            return
        }
        guard let up = upstream, exchange.snapshot != nil else { return }
        let replayable = up.reused && exchange.replayable && up.input.isEmpty
        perform(exchange.machine.upstreamFailed(Worker.exchangeError(failure, endpoint: up.endpoint), now: worker.loop.now,
                                                replayable: replayable))
    }

    /// Sends the kept copy of the request once more, on a fresh connection.
    func retryOnFreshConnection() {
        guard let snapshot = exchange.snapshot else { return }
        let stale = upstream
        upstream = nil
        let fresh = worker.retry(closing: stale, backend: exchange.decision.backend, owner: self, snapshot: snapshot)
        upstream = fresh
        if fresh.state == .closed {
            perform(exchange.machine.upstreamFailed(Worker.exchangeError(.connect, endpoint: fresh.endpoint), now: worker.loop.now))
            return
        }
        worker.replay(replay, on: fresh)
    }

    /// The exchange's deadline passed (see ``ExchangeTimer``).
    func handleUpstreamTimedOut() {
        perform(exchange.machine.timeout(now: worker.loop.now))
    }

    /// The response ended: the machine decides what happens to both sides.
    func responseEnded(upstreamReusable: Bool) {
        perform(exchange.machine.responseEnd(now: worker.loop.now, upstreamReusable: upstreamReusable))
    }

    func waitUntil(_ deadline: UInt64) { self.deadline = deadline }

    /// The client went away: the upstream is let go and the exchange recorded with no status.
    func abandonExchange(_ end: ExchangeEnd) {
        releaseUpstream(end.upstream)
        if let o = end.outcome { recordOutcome(o) }
    }

    /// Lets go of the upstream side (``Worker/release(_:h1:h2:stream:unconsumed:)``).
    @inline(__always)
    func releaseUpstream(_ how: UpstreamRelease) {
        // Locals: two inout accesses to `exchange` at once would conflict.
        var h1 = upstream, h2 = exchange.h2Upstream, unconsumed = exchange.h2Unconsumed
        upstream = nil
        exchange.h2Upstream = nil
        exchange.h2Unconsumed = 0
        worker.release(how, h1: &h1, h2: &h2, stream: exchange.h2Stream, unconsumed: &unconsumed)
    }

    /// An answer or a cut: counted, the upstream let go, recorded, then the client answered (the
    /// connection closes after it) or cut off.
    func endWithError(_ error: ExchangeError, _ end: ExchangeEnd, answer: Bool) {
        guard let snapshot = exchange.snapshot else {
            close()
            return
        }
        // An HTTP/2 connection reports its own connect failures, once for all its streams.
        worker.count(error, endpoint: upstream?.endpoint, snapshot: snapshot)
        releaseUpstream(end.upstream)
        if let o = end.outcome { recordOutcome(o) }
        if answer {
            sendError(status: error.status, code: error.code,
                      message: error.message(backend: snapshot.table.backends[exchange.decision.backend].name,
                                             bodyLimit: exchange.machine.bodyLimit))
        } else {
            close()
        }
    }

    /// Counts the exchange in its target's stats (and the access log when sampled).
    func recordOutcome(_ outcome: ExchangeOutcome) {
        guard let snapshot = exchange.snapshot else { return }
        let micros = worker.record(outcome, decision: exchange.decision, startedAt: exchange.startedAt, snapshot: snapshot,
                                   shadow: &exchange.shadow)
        if exchange.logged { writeAccessLog(snapshot, status: outcome.status, micros: micros) }
        exchange.snapshot = nil
    }
    /// Pushes this exchange's record into the worker's access-log ring (method and path were
    /// copied into `logScratch` when the request was sampled: `input` has moved on since).
    private func writeAccessLog(_ snapshot: ProxySnapshot, status: Int, micros: UInt64) {
        logScratch.withUnsafeBytes { scratch in
            worker.writeAccessLog(method: UnsafeRawBufferPointer(rebasing: scratch[0..<exchange.logMethodLength]),
                                  path: UnsafeRawBufferPointer(rebasing: scratch[exchange.logMethodLength...]),
                                  requestID: exchange.requestID, client: peerIP, decision: exchange.decision,
                                  snapshot: snapshot, status: status, micros: micros)
        }
    }

    /// Response complete: the endpoint reported, the outcome recorded, the upstream parked or
    /// closed, then the next request served or the connection closed.
    func finishExchange(_ end: ExchangeEnd) {
        if let s = exchange.snapshot {
            worker.reportResponse(status: exchange.machine.status, h1: upstream, h2: exchange.h2Upstream, routedWith: s)
        }
        if let o = end.outcome { recordOutcome(o) }
        releaseUpstream(end.upstream)
        requestsServed += 1
        if end.client != .ready || !exchange.clientKeepAlive || worker.draining {
            closeAfterFlush()
            return
        }
        phase = .idle
        deadline = worker.loop.now + worker.snapshot.limits.idleTimeoutNanos
        let wasPaused = readPaused
        readPaused = false
        if !input.isEmpty { process() }
        if wasPaused && !readPaused && phase != .closing && phase != .closed { onReadable() }
        releaseIdleBuffers()
    }
}
