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
        guard let conn = worker.h2Pools[endpoint].acquire(worker: worker, connectTimeout: backend.timeouts.connectNanos,
                                                             idleTimeout: backend.timeouts.idleNanos) else {
            perform(exchange.machine.upstreamFailed(.upstream(.connect), now: now))
            return
        }
        let client = clientHead(buffer)
        head.fields.withUnsafeBufferPointer { ForwardedHead.write(HTTP2Head.self, client, fields: $0, into: &h2Block) }
        guard let id = conn.openStream(headers: h2Block, endStream: exchange.machine.requestDone, owner: self) else {
            perform(exchange.machine.upstreamFailed(.upstream(.connect), now: now))
            return
        }
        h2Block.removeAll()
        exchange.h2Upstream = conn
        exchange.h2Stream = id
        if head.expectContinue && !exchange.machine.requestDone && !continueSent { output.append("HTTP/1.1 100 Continue\r\n\r\n") }
        pumpRequestBody()
        if !output.isEmpty { flushOutput() }
    }

    /// Moves request body bytes from `input` into the upstream stream.
    func pumpRequestBodyH2(_ h2: H2UpstreamConnection) {
        guard !exchange.machine.requestDone else { return }
        let now = worker.loop.now
        switch exchange.requestBody {
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(input.count)))
            if n > 0 {
                guard admitRequestBody(n, now: now) else { return }
                h2.session.enqueueData(stream: exchange.h2Stream, bytes: UnsafeRawBufferPointer(rebasing: input.readable[0..<n]))
                input.consume(n)
            }
            exchange.requestBody = .length(remaining - UInt64(n))
            if remaining == UInt64(n) { _ = exchange.machine.requestEnd(now: now) }
        case .chunked:
            guard let n = decodeRequestChunks(now: now) else { return }
            for r in payloadRanges {
                h2.session.enqueueData(stream: exchange.h2Stream, bytes: UnsafeRawBufferPointer(rebasing: input.readable[r]))
            }
            input.consume(n)
            if requestChunks.isFinished { _ = exchange.machine.requestEnd(now: now) }
        case .none:
            _ = exchange.machine.requestEnd(now: now)
        }
        if exchange.machine.requestDone { _ = h2.session.finishData(stream: exchange.h2Stream) }
        if h2.session.outboundQueued(stream: exchange.h2Stream) >= DownstreamConnection.highWater { readPaused = true }
        h2.scheduleWrite()
        deadline = exchange.machine.deadline
    }

    func h2WantsData() {
        if readPaused && phase == .exchange && !exchange.machine.requestDone {
            readPaused = false
            if !input.isEmpty, let h2 = exchange.h2Upstream { pumpRequestBodyH2(h2) }
            onReadable()
        }
    }

    func h2Header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, isTrailers: Bool) {
        if isTrailers { return }
        if Bytes.equal(name, ":status") {
            var code = 0
            for c in value where c >= 48 && c <= 57 { code = code * 10 + Int(c - 48) }
            exchange.h2Status = code
            h2Block.removeAll()
            return
        }
        if name.first == UInt8(ascii: ":") { return }
        h2Block.append(name: name, value: value)
    }

    func h2HeadersEnd(endStream: Bool, isTrailers: Bool) {
        let status = exchange.h2Status
        guard !isTrailers, status >= 200, let snapshot = exchange.snapshot,
              exchange.machine.responseHead(status: status, now: worker.loop.now) == .forward else { return }
        if !exchange.machine.requestDone { exchange.clientKeepAlive = false }
        deadline = exchange.machine.deadline
        output.append("HTTP/1.1 ")
        output.appendDecimal(UInt64(status))
        output.append(byte: 32)
        let reason = HTTP1Encoder.reasonPhrase(for: status)
        output.append(UnsafeRawBufferPointer(start: reason.utf8Start, count: reason.utf8CodeUnitCount))
        output.append("\r\n")
        var hasLength = false, hasRequestID = false
        h2Block.forEachField { name, value in
            if Bytes.equal(name, "content-length") { hasLength = true }
            if Bytes.equal(name, "x-request-id") { hasRequestID = true }
            output.append(name)
            output.append(": ")
            output.append(value)
            output.append("\r\n")
        }
        let bodyless = endStream || exchange.isHEAD || status == 204 || status == 304
        exchange.h2Chunked = !bodyless && !hasLength
        if exchange.h2Chunked {
            if exchange.clientMinor == 0 { exchange.clientKeepAlive = false } else { output.append("transfer-encoding: chunked\r\n") }
        }
        appendSluiceHeaders(snapshot, hasRequestID: hasRequestID)
        if endStream { h2End() } else { flushOutput() }
    }

    func h2Data(_ bytes: UnsafeRawBufferPointer) {
        guard let h2 = exchange.h2Upstream, exchange.machine.responseStarted else { return }
        if exchange.h2Chunked && exchange.clientMinor == 1 {
            output.appendHexChunkHeader(bytes.count)
            output.append(bytes)
            output.append("\r\n")
        } else {
            output.append(bytes)
        }
        deadline = exchange.machine.responseBody(now: worker.loop.now)
        flushOutput()
        if pendingOutput < DownstreamConnection.highWater {
            h2.session.consume(stream: exchange.h2Stream, bytes.count)
            h2.scheduleWrite()
        } else {
            exchange.h2Unconsumed += bytes.count
        }
    }

    func h2End() {
        guard exchange.h2Upstream != nil, exchange.machine.responseStarted else { return }
        if exchange.h2Chunked && exchange.clientMinor == 1 { output.append("0\r\n\r\n") }
        flushOutput()
        if phase == .exchange { responseEnded(upstreamReusable: true) }
    }

    func h2Closed(errorCode: UInt32) {
        guard exchange.h2Upstream != nil else { return }
        failH2(.reset, streamGone: true)
    }

    /// The h2 upstream failed: the documented error if nothing was sent, else cut the client off.
    func failH2(_ failure: UpstreamFailure, streamGone: Bool) {
        perform(exchange.machine.upstreamFailed(.upstream(failure), now: worker.loop.now, upstreamGone: streamGone))
    }
}
