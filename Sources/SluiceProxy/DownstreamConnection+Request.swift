import SluiceCore
import SluiceHTTP1
import SluiceRouting
import SluiceStats

extension DownstreamConnection {
    /// A complete request head is in `input`: route it, open the upstream, start forwarding.
    func beginExchange() {
        worker.refreshSnapshot()
        let snapshot = worker.snapshot
        let now = worker.loop.now
        exchange.reset()
        exchange.snapshot = snapshot
        exchange.startedAt = now
        exchange.isHEAD = head.isHEAD
        exchange.clientMinor = head.versionMinor
        let buffer = input.readable
        adoptRequestID(buffer)

        let view = RequestView(buffer: buffer, head: head)
        guard let decision = Router.decide(snapshot.table, view, rng: &worker.rng) else {
            snapshot.global.increment(.noRoute, worker: worker.index)
            sendError(status: 404, code: "no_route", message: "no route matches this request")
            return
        }
        exchange.decision = decision
        let route = snapshot.table.routes[decision.route]
        exchange.maxRequestBody = route.maxRequestBody ?? snapshot.limits.maxRequestBody
        switch head.framing {
        case .contentLength(let n):
            if n > exchange.maxRequestBody {
                snapshot.global.increment(.bodyTooLarge, worker: worker.index)
                sendError(status: 413, code: "body_too_large", message: "request body exceeds the route's limit of \(exchange.maxRequestBody) bytes")
                return
            }
            exchange.requestBody = n == 0 ? .none : .length(n)
            exchange.requestBodyDone = n == 0
        case .chunked:
            exchange.requestBody = .chunked
            exchange.requestBodyDone = false
            requestChunks.reset()
        default:
            exchange.requestBody = .none
            exchange.requestBodyDone = true
        }
        exchange.clientKeepAlive = head.keepAlive && !worker.draining
            && requestsServed + 1 < snapshot.limits.maxRequestsPerConnection
        snapshot.targetStats[decision.route][decision.target].recordAssignment(worker: worker.index)

        let backend = snapshot.table.backends[decision.backend]
        exchange.requestTimeout = backend.timeouts.requestNanos
        exchange.bodyIdleTimeout = snapshot.limits.bodyIdleTimeoutNanos
        let up = acquireUpstream(backend: decision.backend, snapshot: snapshot)
        encodeRequestHead(into: &up.output, buffer: buffer, snapshot: snapshot)
        input.consume(head.headLength)
        parser.reset()
        if head.expectContinue && !exchange.requestBodyDone {
            output.append("HTTP/1.1 100 Continue\r\n\r\n")
        }
        phase = .exchange
        deadline = now + exchange.requestTimeout
        pumpRequestBody()
        if phase == .exchange, up.reused, exchange.requestBodyDone, up.output.count <= 64 * 1024 {
            exchange.replayable = true
            replay.removeAll(keepingCapacity: true)
            replay.append(contentsOf: up.output.readable)
        }
        if !output.isEmpty { flushOutput() }
        if phase == .exchange, upstream === up {
            if up.state == .closed { upstreamFailed(.connect) } else if up.state == .active { up.flush() }
        }
    }

    /// Keeps the client's `x-request-id` (if sane) or generates one.
    private func adoptRequestID(_ buffer: UnsafeRawBufferPointer) {
        for f in head.fields where FieldName.equals(buffer, Int(f.nameStart), Int(f.nameLength), "x-request-id") {
            if f.valueLength > 0 && f.valueLength <= 128 {
                exchange.requestID.removeAll(keepingCapacity: true)
                exchange.requestID.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[Int(f.valueStart)..<Int(f.valueStart + f.valueLength)]))
                return
            }
        }
        worker.generateRequestID(into: &exchange.requestID)
        exchange.requestIDGenerated = true
    }

    /// A pooled keep-alive connection to the next endpoint, or a new one.
    func acquireUpstream(backend: Int, snapshot: ProxySnapshot) -> UpstreamConnection {
        let endpoint = worker.nextEndpoint(backend: backend)
        let pool = worker.pools[endpoint]
        if let c = pool.acquire() {
            c.state = .active
            c.owner = self
            c.pool = nil
            c.reused = true
            c.deadline = 0
            upstream = c
            return c
        }
        let c = UpstreamConnection(endpoint: endpoint, home: pool, idleTimeout: snapshot.table.backends[backend].timeouts.idleNanos)
        c.owner = self
        c.loopOfOwnerless = worker.loop
        upstream = c
        guard let (fd, inProgress) = Sockets.connect(snapshot.endpoints[endpoint]) else {
            // Refused at once: reported by beginExchange once the exchange is set up.
            c.state = UpstreamConnection.State.closed
            return c
        }
        snapshot.global.increment(.upstreamConnectionsOpened, worker: worker.index)
        worker.loop.register(c, fd: fd, interest: EventLoop.readable | EventLoop.writable | EventLoop.readHangup | EventLoop.edgeTriggered)
        if inProgress {
            c.deadline = worker.loop.now + snapshot.table.backends[backend].timeouts.connectNanos
        } else {
            c.state = UpstreamConnection.State.active
        }
        return c
    }

    /// Writes the request line and headers for the backend: hop-by-hop fields dropped,
    /// x-forwarded-for appended, x-request-id added when generated, framing restated.
    private func encodeRequestHead(into out: inout ByteQueue, buffer: UnsafeRawBufferPointer, snapshot: ProxySnapshot) {
        out.append(UnsafeRawBufferPointer(rebasing: buffer[head.methodStart..<(head.methodStart + head.methodLength)]))
        out.append(byte: 32)
        let view = RequestView(buffer: buffer, head: head)
        let target = view.pathAndQuery
        if target.isEmpty { out.append(byte: UInt8(ascii: "/")) } else { out.append(target) }
        out.append(" HTTP/1.1\r\n")
        requestConnectionTokens.collect(buffer, head.fields, name: { (Int($0.nameStart), Int($0.nameLength)) },
                                        value: { (Int($0.valueStart), Int($0.valueLength)) })
        var forwardedFor: FieldRange?
        for f in head.fields {
            let ns = Int(f.nameStart), nl = Int(f.nameLength)
            if FieldName.isHopByHop(buffer, ns, nl) || requestConnectionTokens.contains(buffer, ns, nl) { continue }
            if FieldName.equals(buffer, ns, nl, "x-forwarded-for") { forwardedFor = f; continue }
            if FieldName.equals(buffer, ns, nl, "expect") { continue }
            out.append(UnsafeRawBufferPointer(rebasing: buffer[ns..<(ns + nl)]))
            out.append(": ")
            out.append(UnsafeRawBufferPointer(rebasing: buffer[Int(f.valueStart)..<Int(f.valueStart + f.valueLength)]))
            out.append("\r\n")
        }
        out.append("x-forwarded-for: ")
        if let f = forwardedFor, f.valueLength > 0 {
            out.append(UnsafeRawBufferPointer(rebasing: buffer[Int(f.valueStart)..<Int(f.valueStart + f.valueLength)]))
            out.append(", ")
        }
        out.append(peerIP)
        out.append("\r\nx-forwarded-proto: http\r\n")
        if exchange.requestIDGenerated {
            out.append("x-request-id: ")
            out.append(exchange.requestID)
            out.append("\r\n")
        }
        if exchange.requestBody == .chunked { out.append("transfer-encoding: chunked\r\n") }
        out.append("\r\n")
    }

    /// Moves request body bytes from `input` to the upstream, validating chunked framing.
    func pumpRequestBody() {
        guard !exchange.requestBodyDone, let up = upstream else { return }
        switch exchange.requestBody {
        case .length(let remaining):
            let n = Int(min(remaining, UInt64(input.count)))
            if n > 0 {
                up.output.append(UnsafeRawBufferPointer(rebasing: input.readable[0..<n]))
                input.consume(n)
            }
            let left = remaining - UInt64(n)
            exchange.requestBody = .length(left)
            if left == 0 { exchange.requestBodyDone = true }
        case .chunked:
            do {
                let n = try requestChunks.consume(input.readable)
                exchange.requestBodyBytes += UInt64(n)
                if exchange.requestBodyBytes > exchange.maxRequestBody + 64 * 1024 {
                    exchange.snapshot?.global.increment(.bodyTooLarge, worker: worker.index)
                    abortExchange(status: 413, code: "body_too_large", message: "request body exceeds the route's limit of \(exchange.maxRequestBody) bytes")
                    return
                }
                if n > 0 {
                    up.output.append(UnsafeRawBufferPointer(rebasing: input.readable[0..<n]))
                    input.consume(n)
                }
                if requestChunks.isFinished { exchange.requestBodyDone = true }
            } catch {
                exchange.snapshot?.global.increment(.requestsParsedError, worker: worker.index)
                abortExchange(status: error.status, code: error.code, message: error.message)
                return
            }
        case .none:
            exchange.requestBodyDone = true
        }
        if !exchange.responseHeadParsed { deadline = worker.loop.now + exchange.requestTimeout }
        if up.state == .active { up.flush() }
        if upstream === up, up.output.count >= DownstreamConnection.highWater { readPaused = true }
    }

    /// The upstream took everything we had: read more of the request body.
    func upstreamDrained() {
        if readPaused && phase == .exchange && !exchange.requestBodyDone {
            readPaused = false
            if !input.isEmpty { pumpRequestBody() }
            onReadable()
        }
    }

    /// The non-blocking connect finished.
    func upstreamConnected() {
        upstream?.flush()
    }
}
