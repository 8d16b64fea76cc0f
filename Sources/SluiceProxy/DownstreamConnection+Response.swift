import SluiceCore
import SluiceHTTP1
import SluiceRouting
import SluiceStats

extension DownstreamConnection {
    /// Bytes arrived from the backend: parse the head once, then forward the body.
    func handleUpstreamReadable() {
        guard let up = upstream else { return }
        if !exchange.responseHeadParsed {
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
            exchange.responseHeadParsed = true
            if !exchange.requestBodyDone { exchange.clientKeepAlive = false }
            writeResponseHead(up.input.readable)
            up.input.consume(responseHead.headLength)
            responseParser.reset()
        }
        forwardResponseBody(up)
        if phase != .exchange { return }
        // A response that ended here needs no new deadline (the connection takes its idle one).
        if !exchange.responseDone { armExchangeDeadline() }
        flushOutput()
        if phase != .exchange { return }
        if exchange.responseDone {
            finishExchange()
        } else if pendingOutput >= DownstreamConnection.highWater {
            up.readPaused = true
        }
    }

    private func forwardResponseBody(_ up: UpstreamConnection) {
        switch exchange.responseBody {
        case .none:
            exchange.responseDone = true
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(up.input.count)))
            if n > 0 {
                let bytes = UnsafeRawBufferPointer(rebasing: up.input.readable[0..<n])
                output.append(bytes)
                exchange.shadow?.appendPrimary(bytes)
                up.input.consume(n)
            }
            exchange.responseBody = .length(remaining - UInt64(n))
            if remaining == UInt64(n) { exchange.responseDone = true }
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
                if responseChunks.isFinished { exchange.responseDone = true }
            } catch {
                upstreamFailed(.protocolError)
            }
        case .closeDelimited(let rechunk):
            let n = up.input.count
            guard n > 0 else { return }
            if rechunk { output.appendHexChunkHeader(n) }
            output.append(up.input.readable)
            exchange.shadow?.appendPrimary(up.input.readable)
            if rechunk { output.append("\r\n") }
            up.input.consume(n)
        }
    }


    /// Status line and headers for the client: hop-by-hop dropped, Sluice's headers added.
    private func writeResponseHead(_ buffer: UnsafeRawBufferPointer) {
        let snapshot = exchange.snapshot!
        let status = responseHead.status
        exchange.responseStatus = status
        exchange.responseStarted = true
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
        if exchange.responseHeadParsed, case .closeDelimited(let rechunk) = exchange.responseBody {
            if rechunk { output.append("0\r\n\r\n") }
            exchange.responseDone = true
            flushOutput()
            if phase == .exchange { finishExchange() }
            return
        }
        upstreamFailed(.reset)
    }

    /// The upstream exchange failed: retry a stale pooled connection once, answer with the
    /// matching error if the client has not seen a response yet, otherwise cut the client off.
    func handleUpstreamFailed(_ failure: UpstreamFailure) {
        if exchange.h2Upstream != nil {
            exchange.h2Upstream = nil
            failH2(failure)
            return
        }
        guard let up = upstream, let snapshot = exchange.snapshot else { return }
        let noResponseYet = !exchange.responseHeadParsed && up.input.isEmpty
        upstream = nil
        up.closeNow(loop: worker.loop)
        if failure == .reset, up.reused, noResponseYet, exchange.replayable, !exchange.retried {
            exchange.retried = true
            snapshot.global.increment(.upstreamRetries, worker: worker.index)
            let fresh = acquireUpstream(backend: exchange.decision.backend, snapshot: snapshot)
            if fresh.state != .closed {
                fresh.output.append(replay)
                if fresh.state == .active { fresh.flush() }
                return
            }
            upstream = nil
            fresh.closeNow(loop: worker.loop)
        }
        let name = snapshot.table.backends[exchange.decision.backend].name
        if failure == .connect && up.endpoint == Worker.noHealthyEndpoint {
            failExchange(status: 503, code: "no_healthy_upstream", message: "no healthy endpoint in backend \(name)")
            return
        }
        if failure == .connect { worker.reportConnectFailure(endpoint: up.endpoint, snapshot: snapshot) }
        let a = failure.answer(backend: name)
        snapshot.global.increment(a.counter, worker: worker.index)
        failExchange(status: a.status, code: a.code, message: a.message)
    }

    /// The exchange's deadline passed (see ``ExchangeTimer``).
    func handleUpstreamTimedOut() {
        if ExchangeTimer.expiry(requestDone: exchange.requestBodyDone, responseStarted: exchange.responseHeadParsed) == .requestBodyStalled {
            // The client stopped sending its body: not the backend's error.
            worker.snapshot.global.increment(.bodyTimeouts, worker: worker.index)
            abortExchange(status: 408, code: "request_timeout", message: "request body stalled for longer than body_idle_timeout")
            return
        }
        if exchange.responseHeadParsed || upstream == nil {
            exchange.snapshot?.global.increment(.upstreamTimeouts, worker: worker.index)
            failExchange(status: 504, code: "upstream_timeout", message: "backend stalled")
            return
        }
        upstreamFailed(.timeout)
    }

    /// An upstream-side failure: counted as the target's error, answered if possible, then closed.
    func failExchange(status: Int, code: String, message: String) {
        endExchange(status: status, code: code, message: message, isError: true)
    }

    /// A client-side fault mid-exchange (bad chunk, body too large): answered if possible, then closed.
    func abortExchange(status: Int, code: String, message: String) {
        endExchange(status: status, code: code, message: message, isError: false)
    }

    /// Records the outcome, drops the upstream, and answers (or cuts the connection if a response already started).
    private func endExchange(status: Int, code: String, message: String, isError: Bool) {
        cancelH2()
        recordOutcome(status: exchange.responseStarted ? 0 : status, isError: isError)
        if let up = upstream {
            upstream = nil
            up.closeNow(loop: worker.loop)
        }
        sendError(status: status, code: code, message: message)
    }

    /// Counts the exchange in its target's stats.
    func recordOutcome(status: Int, isError: Bool) {
        guard let snapshot = exchange.snapshot else { return }
        if let s = exchange.shadow {
            exchange.shadow = nil
            s.primaryFinished(status: isError ? 0 : status)
        }
        let now = worker.loop.now
        let d = exchange.decision
        let micros = (now &- exchange.startedAt) / 1000
        snapshot.targetStats[d.route][d.target].recordResponse(
            worker: worker.index, nowSecond: now / 1_000_000_000, status: status,
            isError: isError || status >= 500, latencyMicros: micros)
        if exchange.logged { writeAccessLog(snapshot, status: status, micros: micros) }
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

    /// Response complete: park or close the upstream, then serve the next request or close.
    func finishExchange() {
        if let up = upstream, let s = exchange.snapshot { worker.reportEndpointResponse(endpoint: up.endpoint, status: exchange.responseStatus, snapshot: s) }
        recordOutcome(status: exchange.responseStatus, isError: false)
        if let up = upstream {
            upstream = nil
            let reusable = exchange.requestBodyDone && exchange.responseKeepAlive && up.input.isEmpty && !up.peerClosed
                && !worker.draining
            if reusable {
                up.home.release(up, now: worker.loop.now, loop: worker.loop)
            } else {
                up.closeNow(loop: worker.loop)
            }
        }
        requestsServed += 1
        if !exchange.clientKeepAlive || !exchange.requestBodyDone || worker.draining {
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
