import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceRouting

/// HTTP/1.1 client → HTTP/2 backend (`protocol: h2`): the request head becomes a HEADERS
/// block on a multiplexed upstream connection, the body DATA; the response is written back
/// as HTTP/1.1 (chunked unless the backend sent content-length). Trailers are not carried
/// to HTTP/1.1 clients.
extension DownstreamConnection {
    func beginH2Exchange(buffer: UnsafeRawBufferPointer, snapshot: ProxySnapshot, now: UInt64) {
        let backend = snapshot.table.backends[exchange.decision.backend]
        let endpoint = worker.nextEndpoint(backend: exchange.decision.backend)
        input.consume(head.headLength)   // `buffer` stays valid: consume only moves indices
        parser.reset()
        phase = .exchange
        armExchangeDeadline()
        guard let conn = worker.h2Pools[endpoint].acquire(worker: worker, connectTimeout: backend.timeouts.connectNanos,
                                                             idleTimeout: backend.timeouts.idleNanos) else {
            snapshot.global.increment(.upstreamConnectFailures, worker: worker.index)
            failExchange(status: 503, code: "upstream_unavailable", message: "could not connect to backend \(backend.name)")
            return
        }
        h2Block.removeAll()
        h2Block.append(name: ":method", value: head.method(in: buffer))
        h2Block.append(name: ":scheme", value: transport == nil ? "http" : "https")
        if let i = head.hostIndex { h2Block.append(name: ":authority", value: head.fields[i].value(in: buffer)) }
        let view = RequestView(buffer: buffer, head: head)
        if view.needsLeadingSlash {
            h2Scratch.removeAll(keepingCapacity: true)
            h2Scratch.append(UInt8(ascii: "/"))
            h2Scratch.append(contentsOf: view.pathAndQuery)
            h2Scratch.withUnsafeBytes { h2Block.append(name: ":path", value: $0) }
        } else {
            h2Block.append(name: ":path", value: view.pathAndQuery)
        }
        for f in head.fields {
            if head.isHopByHop(buffer, f) || fieldNameEquals(buffer, f, "host") || fieldNameEquals(buffer, f, "expect")
                || ForwardedFields.isSetBySluice(buffer, f, requestIDGenerated: exchange.requestIDGenerated) { continue }
            h2Block.appendLowercasingName(name: f.name(in: buffer), value: f.value(in: buffer))
        }
        ForwardedFor.value(buffer, head.fields, client: peerIP, into: &h2Scratch)
        h2Scratch.withUnsafeBytes { h2Block.append(name: "x-forwarded-for", value: $0) }
        h2Block.append(name: "x-forwarded-proto", value: transport == nil ? "http" : "https")
        if exchange.requestIDGenerated { exchange.requestID.withUnsafeBytes { h2Block.append(name: "x-request-id", value: $0) } }
        guard let id = conn.openStream(headers: h2Block, endStream: exchange.requestBodyDone, owner: self) else {
            failExchange(status: 503, code: "upstream_unavailable", message: "backend \(backend.name) refused a new stream")
            return
        }
        h2Block.removeAll()
        exchange.h2Upstream = conn
        exchange.h2Stream = id
        if head.expectContinue && !exchange.requestBodyDone && !continueSent { output.append("HTTP/1.1 100 Continue\r\n\r\n") }
        pumpRequestBody()
        if !output.isEmpty { flushOutput() }
    }

    /// Moves request body bytes from `input` into the upstream stream.
    func pumpRequestBodyH2(_ h2: H2UpstreamConnection) {
        guard !exchange.requestBodyDone else { return }
        switch exchange.requestBody {
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(input.count)))
            if n > 0 {
                h2.session.enqueueData(stream: exchange.h2Stream, bytes: UnsafeRawBufferPointer(rebasing: input.readable[0..<n]))
                input.consume(n)
            }
            exchange.requestBody = .length(remaining - UInt64(n))
            if remaining == UInt64(n) { exchange.requestBodyDone = true }
        case .chunked:
            guard let n = decodeRequestChunks() else { return }
            for r in payloadRanges {
                h2.session.enqueueData(stream: exchange.h2Stream, bytes: UnsafeRawBufferPointer(rebasing: input.readable[r]))
            }
            input.consume(n)
            if requestChunks.isFinished { exchange.requestBodyDone = true }
        case .none:
            exchange.requestBodyDone = true
        }
        if exchange.requestBodyDone { _ = h2.session.finishData(stream: exchange.h2Stream) }
        if h2.session.outboundQueued(stream: exchange.h2Stream) >= DownstreamConnection.highWater { readPaused = true }
        h2.scheduleWrite()
        armExchangeDeadline()
    }

    func h2WantsData() {
        if readPaused && phase == .exchange && !exchange.requestBodyDone {
            readPaused = false
            if !input.isEmpty, let h2 = exchange.h2Upstream { pumpRequestBodyH2(h2) }
            onReadable()
        }
    }

    func h2Header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, isTrailers: Bool) {
        if isTrailers { return }
        if AttributeScan.equals(name, ":status") {
            var code = 0
            for c in value where c >= 48 && c <= 57 { code = code * 10 + Int(c - 48) }
            exchange.responseStatus = code
            h2Block.removeAll()
            return
        }
        if name.first == UInt8(ascii: ":") { return }
        h2Block.append(name: name, value: value)
    }

    func h2HeadersEnd(endStream: Bool, isTrailers: Bool) {
        guard !isTrailers, exchange.responseStatus >= 200, let snapshot = exchange.snapshot else { return }
        exchange.responseHeadParsed = true
        exchange.responseStarted = true
        if !exchange.requestBodyDone { exchange.clientKeepAlive = false }
        armExchangeDeadline()
        output.append("HTTP/1.1 ")
        output.appendDecimal(UInt64(exchange.responseStatus))
        output.append(byte: 32)
        let reason = HTTP1Encoder.reasonPhrase(for: exchange.responseStatus)
        output.append(UnsafeRawBufferPointer(start: reason.utf8Start, count: reason.utf8CodeUnitCount))
        output.append("\r\n")
        var hasLength = false, hasRequestID = false
        h2Block.forEachField { name, value in
            if AttributeScan.equals(name, "content-length") { hasLength = true }
            if AttributeScan.equals(name, "x-request-id") { hasRequestID = true }
            output.append(name)
            output.append(": ")
            output.append(value)
            output.append("\r\n")
        }
        let bodyless = endStream || exchange.isHEAD || exchange.responseStatus == 204 || exchange.responseStatus == 304
        exchange.h2Chunked = !bodyless && !hasLength
        if exchange.h2Chunked {
            if exchange.clientMinor == 0 { exchange.clientKeepAlive = false } else { output.append("transfer-encoding: chunked\r\n") }
        }
        appendSluiceHeaders(snapshot, hasRequestID: hasRequestID)
        if endStream { h2End() } else { flushOutput() }
    }

    func h2Data(_ bytes: UnsafeRawBufferPointer) {
        guard let h2 = exchange.h2Upstream, exchange.responseStarted else { return }
        if exchange.h2Chunked && exchange.clientMinor == 1 {
            output.appendHexChunkHeader(bytes.count)
            output.append(bytes)
            output.append("\r\n")
        } else {
            output.append(bytes)
        }
        armExchangeDeadline()
        flushOutput()
        if pendingOutput < DownstreamConnection.highWater {
            h2.session.consume(stream: exchange.h2Stream, bytes.count)
            h2.scheduleWrite()
        } else {
            exchange.h2Unconsumed += bytes.count
        }
    }

    func h2End() {
        guard exchange.h2Upstream != nil, exchange.responseStarted else { return }
        if exchange.h2Chunked && exchange.clientMinor == 1 { output.append("0\r\n\r\n") }
        // A backend that answered before the request body ended gets its stream reset, not left open.
        releaseH2Upstream(reset: !exchange.requestBodyDone)
        flushOutput()
        if phase == .exchange { finishExchange() }
    }

    func h2Closed(errorCode: UInt32) {
        guard exchange.h2Upstream != nil else { return }
        releaseH2Upstream(reset: false)
        failH2(.reset)
    }

    /// The h2 upstream failed: the documented error if nothing was sent, else cut the client off.
    func failH2(_ failure: UpstreamFailure) {
        guard let snapshot = exchange.snapshot else { return }
        let a = failure.answer(backend: snapshot.table.backends[exchange.decision.backend].name)
        snapshot.global.increment(a.counter, worker: worker.index)
        failExchange(status: a.status, code: a.code, message: a.message)
    }

    /// Drops the h2 upstream stream (client gone, or the exchange failed on our side).
    func cancelH2() { releaseH2Upstream(reset: true) }

    /// Lets go of the h2 upstream stream (resetting it when it is not finished): the response
    /// bytes held back from the backend's window while the client was slow are credited to the
    /// connection first, whatever the reason the stream ends, so abandoned streams never starve
    /// the shared connection.
    func releaseH2Upstream(reset: Bool) {
        guard let h2 = exchange.h2Upstream else { return }
        exchange.h2Upstream = nil
        h2.finishStream(exchange.h2Stream, unconsumed: exchange.h2Unconsumed, reset: reset)
        exchange.h2Unconsumed = 0
    }
}
