import SluiceCore
import SluiceHTTP1
import SluiceRouting
import SluiceStats

extension DownstreamConnection {
    /// A complete request head is in `input`: route it, open the upstream, start forwarding.
    func beginExchange() {
        worker.refreshSnapshot()
        let snapshot = worker.snapshot
        var model = ModelLookup.notNeeded
        if snapshot.table.usesModel {
            model = lookUpModel(snapshot)
            if case .waiting = model { return }
        }
        let now = worker.loop.now
        exchange.reset()
        exchange.snapshot = snapshot
        worker.increment(.requestsReceived)
        exchange.startedAt = now
        exchange.isHEAD = head.isHEAD
        exchange.clientMinor = head.versionMinor
        let buffer = input.readable
        adoptRequestID(buffer)

        if worker.sampleForAccessLog() {
            exchange.logged = true
            logScratch.removeAll(keepingCapacity: true)
            logScratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[head.methodStart..<(head.methodStart + head.methodLength)]))
            exchange.logMethodLength = head.methodLength
            logScratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[head.targetStart..<(head.targetStart + head.targetLength)]))
        }
        let view = RequestView(buffer: buffer, head: head, model: model.name)
        guard let decision = Router.decide(snapshot.table, view, rng: &worker.rng) else {
            let refusal = RoutingRefusal(model)
            worker.increment(refusal.counter)
            sendError(status: refusal.status, code: refusal.code, message: refusal.message(modelPeek: snapshot.limits.modelPeek))
            return
        }
        exchange.decision = decision
        var requestDone = true
        switch head.framing {
        case .contentLength(let n):
            exchange.requestBody = n == 0 ? .none : .length(n)
            requestDone = n == 0
        case .chunked:
            exchange.requestBody = .chunked
            requestDone = false
            requestChunks.reset()
        default:
            exchange.requestBody = .none
        }
        // Fields are read through the table, not from a local copy of the Route or Backend:
        // copying either struct retains and releases each of its arrays and strings.
        let backendProtocol: WireProtocol = snapshot.table.backends[decision.backend].protocol == .h2 ? .http2 : .http1
        deadline = exchange.machine.begin(ExchangeProtocols(client: .http1, backend: backendProtocol), now: now,
                                          requestDone: requestDone,
                                          requestTimeout: snapshot.table.backends[decision.backend].timeouts.requestNanos,
                                          bodyIdle: snapshot.limits.bodyIdleTimeoutNanos,
                                          maxBody: snapshot.table.routes[decision.route].maxRequestBody ?? snapshot.limits.maxRequestBody)
        if case .contentLength(let n) = head.framing, !exchange.machine.allows(declaredLength: n) {
            // Refused before anything is forwarded (and before the target is charged with it).
            worker.increment(.bodyTooLarge)
            sendError(status: RequestBodyLimit.status, code: RequestBodyLimit.code, message: exchange.machine.bodyLimit.message)
            return
        }
        exchange.clientKeepAlive = head.keepAlive && !worker.draining
            && requestsServed + 1 < snapshot.limits.maxRequestsPerConnection
        let w = worker.index
        snapshot.targetTable.with(route: decision.route, target: decision.target) { $0.recordAssignment(worker: w) }
        if decision.shadow { startShadow(now: now) }

        if backendProtocol == .http2 {
            beginH2Exchange(buffer: buffer, snapshot: snapshot, now: now)
            return
        }
        let up = acquireUpstream(backend: decision.backend, snapshot: snapshot)
        let client = clientHead(buffer)
        let chunked = exchange.requestBody == .chunked
        head.fields.withUnsafeBufferPointer { fields in
            ForwardedHead.write(HTTP1Head.self, client, fields: fields, into: &up.output, chunked: chunked)
            if let s = exchange.shadow { ForwardedHead.write(HTTP1Head.self, client, fields: fields, into: &s.head, shadow: true) }
        }
        input.consume(head.headLength)
        parser.reset()
        if head.expectContinue && !requestDone && !continueSent {
            output.append("HTTP/1.1 100 Continue\r\n\r\n")
        }
        phase = .exchange
        if up.reused { keepReplayCopy(up) }
        pumpRequestBody()
        if !output.isEmpty { flushOutput() }
        if phase == .exchange, upstream === up {
            if up.state == .closed { upstreamFailed(.connect) } else if up.state == .active { up.flush() }
        }
        if exchange.machine.requestDone, let s = exchange.shadow { s.send() }
    }

    /// A reused pooled connection may turn out to be closed by the backend: keep a copy of the
    /// whole request (head + body, when the body is already buffered and small) before anything
    /// is written, so it can be replayed once on a fresh connection.
    private func keepReplayCopy(_ up: UpstreamConnection) {
        var bodyLength = 0
        switch exchange.requestBody {
        case .none: break
        case .length(let n):
            guard n <= UInt64(input.count) else { return }
            bodyLength = Int(n)
        case .chunked: return
        }
        guard up.output.count + bodyLength <= 64 * 1024 else { return }
        replay.removeAll(keepingCapacity: true)
        if replay.capacity == 0 { replay.reserveCapacity(4096) }
        replay.append(contentsOf: up.output.readable)
        replay.append(contentsOf: UnsafeRawBufferPointer(rebasing: input.readable[0..<bodyLength]))
        exchange.replayable = true
    }

    /// Keeps the client's `x-request-id` (if sane) or generates one.
    private func adoptRequestID(_ buffer: UnsafeRawBufferPointer) {
        for f in head.fields where fieldNameEquals(buffer, f, "x-request-id") {
            if f.valueLength > 0 && f.valueLength <= 128 {
                exchange.requestID.removeAll(keepingCapacity: true)
                exchange.requestID.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[Int(f.valueStart)..<Int(f.valueStart + f.valueLength)]))
                return
            }
        }
        worker.generateRequestID(into: &exchange.requestID)
        exchange.requestIDGenerated = true
    }

    /// A pooled or new upstream connection for `backend`, owned by this connection.
    func acquireUpstream(backend: Int, snapshot: ProxySnapshot) -> UpstreamConnection {
        let c = worker.openUpstream(backend: backend, owner: self)
        upstream = c
        return c
    }

    /// Starts a shadow copy (see ``Worker/startShadow(route:declaredLength:primaryIsH2:now:)``).
    private func startShadow(now: UInt64) {
        var declared: UInt64?
        if case .contentLength(let n) = head.framing { declared = n }
        let d = exchange.decision
        exchange.shadow = worker.startShadow(route: d.route, declaredLength: declared,
                                             primaryIsH2: worker.snapshot.table.backends[d.backend].protocol == .h2, now: now)
    }

    /// The parsed request head as the forwarding rules see it (``ForwardedHead``).
    @inline(__always)
    func clientHead(_ buffer: UnsafeRawBufferPointer) -> ClientHead {
        head.clientHead(buffer, isTLS: transport != nil, requestID: exchange.requestID,
                        requestIDGenerated: exchange.requestIDGenerated, peerIP: peerIP)
    }

    /// Moves request body bytes from `input` to the upstream, validating chunked framing.
    func pumpRequestBody() {
        if let h2 = exchange.h2Upstream {
            pumpRequestBodyH2(h2)
            return
        }
        guard !exchange.machine.requestDone, let up = upstream else { return }
        let now = worker.loop.now
        switch exchange.requestBody {
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(input.count)))
            if n > 0 {
                guard admitRequestBody(n, now: now) else { return }
                let bytes = UnsafeRawBufferPointer(rebasing: input.readable[0..<n])
                up.output.append(bytes)
                if let s = exchange.shadow, !s.appendBody(bytes) { dropShadow(.bodyTooLarge) }
                input.consume(n)
            }
            let left = remaining - UInt64(n)
            exchange.requestBody = .length(left)
            if left == 0 { _ = exchange.machine.requestEnd(now: now) }
        case .chunked:
            guard let n = decodeRequestChunks(now: now) else { return }
            if let s = exchange.shadow {
                for r in payloadRanges where !s.appendBody(UnsafeRawBufferPointer(rebasing: input.readable[r])) {
                    dropShadow(.bodyTooLarge)
                    break
                }
            }
            if n > 0 {
                up.output.append(UnsafeRawBufferPointer(rebasing: input.readable[0..<n]))
                input.consume(n)
            }
            if requestChunks.isFinished { _ = exchange.machine.requestEnd(now: now) }
        case .none:
            _ = exchange.machine.requestEnd(now: now)
        }
        deadline = exchange.machine.deadline
        if up.state == .active { up.flush() }
        if exchange.machine.requestDone, let s = exchange.shadow, s.phase == .collecting { s.send() }
        if upstream === up, up.output.count >= DownstreamConnection.highWater { readPaused = true }
    }

    /// Counts `n` request body bytes with the machine (body limit, deadline); false when the
    /// exchange was ended (413).
    @inline(__always)
    func admitRequestBody(_ n: Int, now: UInt64) -> Bool {
        let action = exchange.machine.requestBody(n, now: now)
        if action == .forward { return true }
        perform(action)
        return false
    }

    /// Gives up the shadow copy of this request (counted by reason).
    func dropShadow(_ reason: ShadowDropReason) {
        exchange.shadow?.abandon(reason)
        exchange.shadow = nil
    }

    /// The upstream took everything we had: read more of the request body.
    func handleUpstreamDrained() {
        if readPaused && phase == .exchange && !exchange.machine.requestDone {
            readPaused = false
            if !input.isEmpty { pumpRequestBody() }
            onReadable()
        }
    }

    /// The non-blocking connect finished.
    func handleUpstreamConnected() {
        upstream?.flush()
    }
}

extension DownstreamConnection {
    /// Decodes the chunked request body bytes in `input` (payload ranges into `payloadRanges`) and
    /// checks them against the body limit, for either kind of upstream. Returns how many bytes of
    /// `input` the chunks took (the caller forwards and consumes them), or nil when the exchange
    /// was ended: 413 for a body over the limit, the parser's status for bad chunk framing.
    func decodeRequestChunks(now: UInt64) -> Int? {
        payloadRanges.removeAll(keepingCapacity: true)
        do {
            let n = try requestChunks.consume(input.readable, payload: &payloadRanges)
            var payload = 0
            for r in payloadRanges { payload += r.count }
            if !admitRequestBody(payload, now: now) { return nil }
            return n
        } catch {
            perform(exchange.machine.fail(.badRequestBody(error), now: now))
            return nil
        }
    }
}
