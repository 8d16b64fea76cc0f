import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceRouting
import SluiceStats

/// One HTTP/2 request stream and its upstream exchange. Recycled by its connection.
/// The upstream is an HTTP/1.1 connection from the worker's pool: the request head is
/// rebuilt from the pseudo-headers, a body without content-length is re-framed as chunked,
/// and the response is parsed and re-emitted as HEADERS + DATA on the stream.
final class H2StreamExchange: ExchangeHandler, ExchangeAdapter {
    /// unowned(unsafe): the connection owns its streams and aborts them before it goes away.
    unowned(unsafe) let connection: H2DownstreamConnection
    var id: Int32 = 0
    let headers = H2RequestHeaders()
    var responseHeaders = H2HeaderBlock()
    var snapshot: ProxySnapshot?
    var decision = Decision(route: 0, target: 0, backend: 0, reason: .weighted, shadow: false)
    var startedAt: UInt64 = 0
    var requestID: [UInt8] = []
    var requestIDGenerated = false
    var upstream: UpstreamConnection?
    /// The HTTP/2 upstream connection and stream id (backends with `protocol: h2`).
    var h2Upstream: H2UpstreamConnection?
    var h2Stream: Int32 = 0
    /// Response DATA from the h2 upstream not yet credited back (the client is slow).
    var upstreamUnconsumed = 0
    var trailers = H2HeaderBlock()
    /// The shadow copy of this request, while the primary runs.
    var shadow: ShadowExchange?
    /// The request bytes kept for one replay on a fresh connection (see `start`).
    var replay: [UInt8] = []
    var replayable = false
    var grpcStatus: UInt8 = 0
    /// The request's header block arrived (a later block is its trailers).
    var requestStarted = false
    var requestChunked = false
    /// The lifecycle of this stream's exchange, the same on every protocol pair.
    var machine = ExchangeMachine()
    /// Sampled for the access log (method and path stay in `headers` until the stream is recycled).
    var logged = false
    /// Request DATA bytes forwarded but not yet credited back to the client (flow control).
    var unconsumed = 0
    /// Reads the HTTP/1.1 backend's response (head, then body by its framing).
    var reader = UpstreamResponseReader()
    /// The `:status` of the h2 response head being collected.
    var status = 0
    /// The h2 backend sent x-request-id in its response head (then Sluice adds none).
    var upstreamSentRequestID = false
    /// Scratch for error bodies and chunk framing.
    var scratch: [UInt8] = []
    /// The request body held while its model is looked for (`match.model` routes), or `nil`.
    var peek: BodyPeek?
    /// The held body bytes: a worker pool block while a peek is under way, none otherwise.
    var peekBody = ByteQueue()

    /// Above this many bytes queued on the stream, stop reading the upstream.
    static let streamHighWater = 256 * 1024

    init(connection: H2DownstreamConnection) {
        self.connection = connection
        worker = connection.worker
        sessionRef = Unmanaged.passUnretained(connection.session)
        loopRef = Unmanaged.passUnretained(connection.worker.loop)
        requestID.reserveCapacity(64)
        scratch.reserveCapacity(256)
    }

    /// unowned(unsafe): a worker outlives every connection and stream on its loop; a computed
    /// `connection.worker` returned it retained, once per use.
    unowned(unsafe) let worker: Worker
    /// The connection's session, not retained: the connection creates it before any stream, never
    /// replaces it, and outlives its streams. Per-request calls go through ``withSession(_:)``,
    /// which lends it at +0; `session` (retained around each call) serves the rarer paths.
    let sessionRef: Unmanaged<H2Session>
    var session: H2Session { sessionRef.takeUnretainedValue() }
    /// The worker's loop, used at +0 like `sessionRef` (the worker outlives its streams).
    let loopRef: Unmanaged<EventLoop>

    /// Prepares for stream `id`.
    func begin(id: Int32) {
        self.id = id
        headers.reset()
        responseHeaders.removeAll()
        snapshot = nil
        upstream = nil
        h2Upstream = nil
        h2Stream = 0
        upstreamUnconsumed = 0
        trailers.removeAll()
        grpcStatus = 0
        shadow = nil
        replayable = false
        requestStarted = false
        requestChunked = false
        machine = ExchangeMachine()
        logged = false
        unconsumed = 0
        upstreamSentRequestID = false
        deadline = 0
        reader.reset()
        status = 0
        requestIDGenerated = false
        if peek != nil { endPeek() }
    }

    deinit {
        peekBody.deallocate()
    }

    func header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        if !requestStarted { headers.add(name: name, value: value) }
    }

    func headersEnd(endStream: Bool, isTrailers: Bool) {
        if isTrailers || requestStarted {
            // Request trailers cannot be carried to an HTTP/1.1 backend without chunked trailers; dropped.
            if endStream { requestEnd() }
            return
        }
        requestStarted = true
        start(endStream: endStream)
    }

    // MARK: request

    private func start(endStream: Bool) {
        let snapshot = worker.snapshot
        self.snapshot = snapshot
        worker.increment(.requestsReceived)
        startedAt = worker.loop.now
        // Until a route is chosen, only body_idle_timeout bounds what the client sends.
        machine.beginUnrouted(protocols, now: startedAt, requestDone: endStream, bodyIdle: snapshot.limits.bodyIdleTimeoutNanos)
        headers.finishBlock()
        if headers.malformed || headers.method.isEmpty || headers.pathRange.isEmpty {
            generateRequestID()
            respondError(status: 400, code: "bad_request", message: "malformed HTTP/2 request header block")
            return
        }
        adoptRequestID()
        if snapshot.table.usesModel {
            startWithModel(snapshot: snapshot, endStream: endStream)
            return
        }
        route(snapshot: snapshot, endStream: endStream, model: .notNeeded)
    }

    /// Chooses the route (by `model` too, for `match.model` routes) and starts the upstream exchange.
    func route(snapshot: ProxySnapshot, endStream: Bool, model: ModelLookup) {
        var view = headers.view
        view.model = model.name
        guard let decision = Router.decide(snapshot.table, view, rng: &worker.rng) else {
            let refusal = RoutingRefusal(model)
            worker.increment(refusal.counter)
            respondError(status: refusal.status, code: refusal.code, message: refusal.message(modelPeek: snapshot.limits.modelPeek))
            return
        }
        self.decision = decision
        let primaryIsH2 = snapshot.table.backends[decision.backend].protocol == .h2
        // Read through the table: a local copy of the Route would retain each of its arrays.
        _ = machine.begin(ExchangeProtocols(client: .http2, backend: primaryIsH2 ? .http2 : .http1), now: startedAt,
                          requestDone: machine.requestDone,
                          requestTimeout: snapshot.table.backends[decision.backend].timeouts.requestNanos,
                          bodyIdle: snapshot.limits.bodyIdleTimeoutNanos,
                          maxBody: snapshot.table.routes[decision.route].maxRequestBody ?? snapshot.limits.maxRequestBody)
        if let n = headers.contentLength, !machine.allows(declaredLength: n) {
            // Refused before anything is forwarded (and before the target is charged with it).
            worker.increment(.bodyTooLarge)
            respondError(status: RequestBodyLimit.status, code: RequestBodyLimit.code, message: machine.bodyLimit.message)
            return
        }
        let w = worker.index
        snapshot.targetTable.with(route: decision.route, target: decision.target) { $0.recordAssignment(worker: w) }
        logged = worker.sampleForAccessLog()
        armFirstDeadline()
        if decision.shadow {
            shadow = worker.startShadow(route: decision.route, declaredLength: headers.contentLength,
                                        primaryIsH2: primaryIsH2, now: startedAt)
        }
        if primaryIsH2 {
            startH2Upstream(snapshot: snapshot, endStream: endStream)
            return
        }
        requestChunked = !machine.requestDone && headers.contentLength == nil
        let up = worker.openUpstream(backend: decision.backend, owner: self)
        upstream = up
        let client = clientHead()
        ForwardedHead.write(HTTP1Head.self, client, fields: headers.fields, into: &up.output, chunked: requestChunked)
        // Shadow work only for routes that mirror (reading `shadow` costs a retain per request).
        if decision.shadow, let s = shadow { ForwardedHead.write(HTTP1Head.self, client, fields: headers.fields, into: &s.head, shadow: true) }
        // A bodyless request on a reused pooled connection can be replayed once if the backend
        // turns out to have dropped that connection (copy taken before anything is written).
        replayable = up.reused && machine.requestDone && up.output.count <= 64 * 1024
        if replayable {
            replay.removeAll(keepingCapacity: true)
            replay.append(contentsOf: up.output.readable)
        }
        switch up.state {
        case .closed:
            upstreamFailed(.connect)
        case .active:
            deferWork(up)
        default:
            break
        }
        if decision.shadow, machine.requestDone { shadow?.send() }
    }

    /// Asks the loop to run `handler` at the end of this iteration (not retaining the loop).
    @inline(__always)
    func deferWork(_ handler: EventHandler) { loopRef._withUnsafeGuaranteedRef { $0.deferWork(handler) } }

    /// Runs `body` with the session, not retained (see `sessionRef`).
    @inline(__always) @discardableResult
    func withSession<R>(_ body: (H2Session) -> R) -> R { sessionRef._withUnsafeGuaranteedRef(body) }

    /// This stream's protocols before a backend is chosen (only the client side matters then).
    var protocols: ExchangeProtocols { ExchangeProtocols(client: .http2, backend: .http1) }

    /// Gives up the shadow copy (counted by reason).
    func dropShadow(_ reason: ShadowDropReason) {
        shadow?.abandon(reason)
        shadow = nil
    }

    private func generateRequestID() {
        worker.generateRequestID(into: &requestID)
        requestIDGenerated = true
    }

    private func adoptRequestID() {
        let buf = headers.bytes
        for f in headers.fields where f.nameLength == 12 && Bytes.equal(f.name(in: buf), "x-request-id") {
            guard f.valueLength > 0 && f.valueLength <= 128 else { break }
            requestID.removeAll(keepingCapacity: true)
            requestID.append(contentsOf: f.value(in: buf))
            requestIDGenerated = false
            return
        }
        // Not emptied first: a generated id is written in place when the buffer has its size.
        generateRequestID()
    }


    /// The request head as the forwarding rules see it (``ForwardedHead``).
    func clientHead() -> ClientHead {
        headers.clientHead(isTLS: connection.isTLS, requestID: requestID, requestIDGenerated: requestIDGenerated,
                           peerIP: connection.peerIP)
    }

    /// DATA from the client: forward (re-chunked if needed), credit the window only while the upstream keeps up.
    func requestData(_ bytes: UnsafeRawBufferPointer) {
        let action = machine.requestBody(bytes.count, now: connection.lastActivity)
        if peek != nil {
            peekData(bytes)
            return
        }
        guard action == .forward else {
            withSession { $0.consume(stream: id, bytes.count) }
            perform(action)
            return
        }
        if let h2 = h2Upstream {
            requestDataH2(bytes, h2)
            return
        }
        guard let up = upstream else {
            withSession { $0.consume(stream: id, bytes.count) }
            return
        }
        if let s = shadow, !s.appendBody(bytes) { dropShadow(.bodyTooLarge) }
        if requestChunked {
            up.output.appendHexChunkHeader(bytes.count)
            up.output.append(bytes)
            up.output.append("\r\n")
        } else {
            up.output.append(bytes)
        }
        if up.output.count < DownstreamConnection.highWater {
            withSession { $0.consume(stream: id, bytes.count) }
        } else {
            unconsumed += bytes.count
        }
        if up.state == .active { deferWork(up) }
    }

    /// END_STREAM from the client.
    func requestEnd() {
        if peek != nil {
            // The end is told to the machine when the held body is forwarded (`decideIfPossible`).
            peekEnd()
            return
        }
        guard machine.requestEnd(now: connection.lastActivity) == .forward else { return }
        armDeadline()
        if let h2 = h2Upstream {
            _ = h2.session.finishData(stream: h2Stream)
            h2.scheduleWrite()
            return
        }
        guard let up = upstream else { return }
        if requestChunked { up.output.append("0\r\n\r\n") }
        if up.state == .active { deferWork(up) }
        if decision.shadow { shadow?.send() }
    }

    override func upstreamConnected() {
        upstream?.flush()
    }

    override func upstreamReadable() { handleUpstreamReadable() }
    override func upstreamEOF() { handleUpstreamEOF() }
    override func upstreamFailed(_ failure: UpstreamFailure) { handleUpstreamFailed(failure) }
    override func upstreamTimedOut() { handleUpstreamFailed(.timeout) }

    /// Routed and waiting for its backend's response head (bounded by the request timeout).
    var awaitsBackend: Bool { machine.isRouted && machine.isActive && !machine.responseStarted }

    /// Sets the stream's `deadline` (checked by its connection) from the machine's.
    @inline(__always)
    func armDeadline() { deadline = machine.deadline }

    /// Sets the stream's deadline and makes sure the connection checks its streams no later: at its
    /// start, after it timed out, and at the response head (from then on `body_idle_timeout` may
    /// come before the request timeout). Deadlines set by other events are never earlier than the
    /// latest of these (``ExchangeTimer``), so only these need to reach the connection.
    @inline(__always)
    func armFirstDeadline() { armFirstDeadline(machine.deadline) }

    /// Sets the stream's deadline to `at` (0: none), making sure the connection checks no later.
    @inline(__always)
    func armFirstDeadline(_ at: UInt64) {
        deadline = at
        if deadline != 0 && (deadline < connection.deadline || connection.deadline == 0) { connection.deadline = deadline }
    }

    /// The stream's deadline passed (checked by the connection; see ``ExchangeTimer``).
    func timedOut() {
        let action = machine.timeout(now: worker.loop.now)
        if case .wait(let moved) = action {
            deadline = moved
            return
        }
        deadline = 0
        if peek != nil { endPeek(credit: true) }
        if action == .none && machine.state == .done {
            // Answered, but the client never took the end of the answer: the stream (and what is
            // queued on it) is not held any longer.
            session.resetStream(id, errorCode: H2ErrorCode.cancel)
            connection.scheduleWrite()
            return
        }
        perform(action)
    }

    func waitUntil(_ deadline: UInt64) { self.deadline = deadline }

    /// The client went away, or an answered stream's client never ended it (`cancel`: reset it).
    func abandonExchange(_ end: ExchangeEnd) {
        if end.client == .cancel {
            // An answered stream the client never ended: nothing holds it open any longer.
            session.resetStream(id, errorCode: H2ErrorCode.cancel)
            connection.scheduleWrite()
        }
        releaseUpstream(end.upstream)
        if let o = end.outcome { record(o) }
    }

    override func h2ResponseHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, isTrailers: Bool) {
        h2Header(name: name, value: value, isTrailers: isTrailers)
    }
    override func h2ResponseHeadersEnd(endStream: Bool, isTrailers: Bool) { h2HeadersEnd(endStream: endStream, isTrailers: isTrailers) }
    override func h2ResponseData(_ bytes: UnsafeRawBufferPointer) { h2Data(bytes) }
    override func h2ResponseEnd() { h2End() }
    override func h2StreamClosed(errorCode: UInt32) { h2Closed(errorCode: errorCode) }
    override func h2UpstreamWantsData() { h2WantsData() }

    override func upstreamDrained() {
        if unconsumed > 0 {
            session.consume(stream: id, unconsumed)
            unconsumed = 0
            connection.scheduleWrite()
        }
    }
}
