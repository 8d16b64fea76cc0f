import SluiceCore
import SluiceHTTP1
import SluiceRouting
import SluiceStats

extension DownstreamConnection {
    /// Bytes arrived from the backend: parse the head once, then forward the body.
    func handleUpstreamReadable() {
        guard let up = upstream else { return }
        var done = false
        if !exchange.machine.responseStarted {
            while true {
                switch responseParser.parse(up.input.readable, requestWasHEAD: exchange.isHEAD, into: &responseHead) {
                case .incomplete:
                    return
                case .error:
                    upstreamFailed(.protocolError)
                    return
                case .complete:
                    if responseHead.status >= 100 && responseHead.status < 200 {
                        // 100 Continue was already sent by Sluice; 101 is not supported.
                        if responseHead.status == 101 { upstreamFailed(.protocolError); return }
                        up.input.consume(responseHead.headLength)
                        responseParser.reset()
                        continue
                    }
                }
                break
            }
            guard exchange.machine.responseHead(status: responseHead.status, now: worker.loop.now) == .forward else { return }
            // A backend answering before the request body ended: this connection cannot take another request.
            if !exchange.machine.requestDone { exchange.clientKeepAlive = false }
            writeResponseHead(up.input.readable)
            up.input.consume(responseHead.headLength)
            responseParser.reset()
        }
        guard forwardResponseBody(up, done: &done) else { return }
        if !done { deadline = exchange.machine.responseBody(now: worker.loop.now) }
        flushOutput()
        if phase != .exchange { return }
        if done {
            responseEnded(upstreamReusable: exchange.responseKeepAlive && up.input.isEmpty && !up.peerClosed)
        } else if pendingOutput >= DownstreamConnection.highWater {
            up.readPaused = true
        }
    }

    /// Forwards what the backend sent of the body; false when the exchange was ended (bad chunk framing).
    private func forwardResponseBody(_ up: UpstreamConnection, done: inout Bool) -> Bool {
        switch exchange.responseBody {
        case .none:
            done = true
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(up.input.count)))
            if n > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: up.input.readable[0..<n])
                output.append(bytes)
                exchange.shadow?.appendPrimary(bytes)
                up.input.consume(n)
            }
            exchange.responseBody = .length(remaining - UInt64(n))
            if remaining == UInt64(n) { done = true }
        case .chunkedPassThrough, .chunkedDecoded:
            do {
                payloadRanges.removeAll(keepingCapacity: true)
                let n = try responseChunks.consume(up.input.readable, payload: &payloadRanges)
                if let s = exchange.shadow {
                    for r in payloadRanges { s.appendPrimary(UnsafeRawBufferPointer(rebasing: up.input.readable[r])) }
                }
                if exchange.responseBody == .chunkedPassThrough {
                    output.append(UnsafeRawBufferPointer(rebasing: up.input.readable[0..<n]))
                } else {
                    for r in payloadRanges { output.append(UnsafeRawBufferPointer(rebasing: up.input.readable[r])) }
                }
                up.input.consume(n)
                if responseChunks.isFinished { done = true }
            } catch {
                upstreamFailed(.protocolError)
                return false
            }
        case .closeDelimited(let rechunk):
            let n = up.input.count
            guard n > 0 else { return true }
            if rechunk { output.appendHexChunkHeader(n) }
            output.append(up.input.readable)
            exchange.shadow?.appendPrimary(up.input.readable)
            if rechunk { output.append("\r\n") }
            up.input.consume(n)
        }
        return true
    }

    /// Status line and headers for the client: hop-by-hop dropped, Sluice's headers added.
    private func writeResponseHead(_ buffer: UnsafeRawBufferPointer) {
        let snapshot = exchange.snapshot!
        let status = responseHead.status
        exchange.responseKeepAlive = responseHead.keepAlive
        output.append("HTTP/1.1 ")
        output.appendDecimal(UInt64(status))
        output.append(byte: 32)
        if responseHead.reasonLength > 0 {
            output.append(UnsafeRawBufferPointer(rebasing: buffer[responseHead.reasonStart..<(responseHead.reasonStart + responseHead.reasonLength)]))
        }
        output.append("\r\n")
        var hasRequestID = false
        for f in responseHead.fields {
            let ns = Int(f.nameStart), nl = Int(f.nameLength)
            if responseHead.isHopByHop(buffer, f) { continue }
            if fieldNameEquals(buffer, f, "x-request-id") { hasRequestID = true }
            output.append(UnsafeRawBufferPointer(rebasing: buffer[ns..<(ns + nl)]))
            output.append(": ")
            output.append(UnsafeRawBufferPointer(rebasing: buffer[Int(f.valueStart)..<Int(f.valueStart + f.valueLength)]))
            output.append("\r\n")
        }
        let http10 = exchange.clientMinor == 0
        switch responseHead.framing {
        case .none:
            exchange.responseBody = .none
        case .contentLength(let n):
            exchange.responseBody = n == 0 ? .none : .length(n)
        case .chunked:
            responseChunks.reset()
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
        output.append("x-sluice-target: ")
        output.append(snapshot.backendNames[exchange.decision.backend])
        let version = snapshot.modelVersions[exchange.decision.backend]
        if !version.isEmpty {
            output.append("\r\nx-model-version: ")
            output.append(version)
        }
        if !hasRequestID {
            output.append("\r\nx-request-id: ")
            output.append(exchange.requestID)
        }
        if !exchange.clientKeepAlive {
            output.append("\r\nconnection: close")
        } else if exchange.clientMinor == 0 {
            output.append("\r\nconnection: keep-alive")
        }
        output.append("\r\n\r\n")
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
    private func retryOnFreshConnection() {
        guard let snapshot = exchange.snapshot else { return }
        if let up = upstream {
            upstream = nil
            up.closeNow(loop: worker.loop)
        }
        snapshot.global.increment(.upstreamRetries, worker: worker.index)
        let fresh = acquireUpstream(backend: exchange.decision.backend, snapshot: snapshot)
        if fresh.state == .closed {
            perform(exchange.machine.upstreamFailed(Worker.exchangeError(.connect, endpoint: fresh.endpoint), now: worker.loop.now))
            return
        }
        fresh.output.append(replay)
        if fresh.state == .active { fresh.flush() }
    }

    /// The exchange's deadline passed (see ``ExchangeTimer``).
    func handleUpstreamTimedOut() {
        perform(exchange.machine.timeout(now: worker.loop.now))
    }

    /// The response ended: the machine decides what happens to both sides.
    func responseEnded(upstreamReusable: Bool) {
        perform(exchange.machine.responseEnd(now: worker.loop.now, upstreamReusable: upstreamReusable))
    }

    /// Carries out what the exchange machine decided.
    func perform(_ action: ExchangeAction) {
        switch action {
        case .none, .forward, .discard:
            return
        case .wait(let d):
            deadline = d
        case .retry:
            retryOnFreshConnection()
        case .answer(let error, let end):
            endWithError(error, end, answer: true)
        case .cut(let error, let end):
            endWithError(error, end, answer: false)
        case .finish(let end):
            finishExchange(end)
        case .abandon(let end):
            releaseUpstream(end.upstream)
            if let o = end.outcome { recordOutcome(o) }
        }
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
    private func endWithError(_ error: ExchangeError, _ end: ExchangeEnd, answer: Bool) {
        guard let snapshot = exchange.snapshot else {
            close()
            return
        }
        worker.count(error, endpoint: upstream?.endpoint ?? exchange.h2Upstream?.endpoint, snapshot: snapshot)
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
    /// Pushes this exchange's record into the worker's access-log ring (dropped if full).
    private func writeAccessLog(_ snapshot: ProxySnapshot, status: Int, micros: UInt64) {
        guard let ring = worker.accessLog else { return }
        guard let slot = ring.reserve() else {
            snapshot.global.increment(.accessLogDropped, worker: worker.index)
            return
        }
        let d = exchange.decision
        logScratch.withUnsafeBytes { scratch in
            let method = UnsafeRawBufferPointer(rebasing: scratch[0..<exchange.logMethodLength])
            let path = UnsafeRawBufferPointer(rebasing: scratch[exchange.logMethodLength...])
            exchange.requestID.withUnsafeBytes { id in
                snapshot.routeNames[d.route].withUnsafeBytes { route in
                    snapshot.backendNames[d.backend].withUnsafeBytes { target in
                        peerIP.withUnsafeBytes { client in
                            AccessLogRecord.write(slot, wallTime: MonotonicClock.wallSeconds(), status: status, durationMicros: micros,
                                                  method, path, id, route, target, client)
                        }
                    }
                }
            }
        }
        ring.commit()
    }

    /// Response complete: the endpoint reported, the outcome recorded, the upstream parked or
    /// closed, then the next request served or the connection closed.
    func finishExchange(_ end: ExchangeEnd) {
        if let s = exchange.snapshot, let endpoint = upstream?.endpoint ?? exchange.h2Upstream?.endpoint {
            worker.reportEndpointResponse(endpoint: endpoint, status: exchange.machine.status, snapshot: s)
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
