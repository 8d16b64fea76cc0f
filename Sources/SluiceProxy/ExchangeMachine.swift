import SluiceHTTP1
import SluiceStats

/// The protocol a side of an exchange speaks.
enum WireProtocol: Equatable, Sendable {
    case http1
    case http2
}

/// The protocols of one exchange: the client's and the chosen backend's.
struct ExchangeProtocols: Equatable, Sendable {
    var client: WireProtocol
    var backend: WireProtocol
}

/// An answer Sluice makes itself once a request is routed. One table for every protocol pair:
/// the status, the JSON `error` code, the message, whether it counts against the target, and the
/// global counter it adds to.
enum ExchangeError: Equatable {
    /// The client stopped sending its request body (408; the client's fault).
    case requestBodyStalled
    /// The request body went over the route's limit (413).
    case bodyTooLarge
    /// The request body's framing is broken (the parser's status, 400 or 413).
    case badRequestBody(HTTP1Error)
    /// The backend failed (503 connect, 504 timeout, 502 protocol error or reset).
    case upstream(UpstreamFailure)
    /// Every endpoint of the backend is ejected or unhealthy (503).
    case noHealthyUpstream

    var status: Int {
        switch self {
        case .requestBodyStalled: return 408
        case .bodyTooLarge: return RequestBodyLimit.status
        case .badRequestBody(let e): return e.status
        case .upstream(.connect), .noHealthyUpstream: return 503
        case .upstream(.timeout): return 504
        case .upstream(.protocolError), .upstream(.reset): return 502
        }
    }

    var code: String {
        switch self {
        case .requestBodyStalled: return "request_timeout"
        case .bodyTooLarge: return RequestBodyLimit.code
        case .badRequestBody(let e): return e.code
        case .upstream(.connect): return "upstream_unavailable"
        case .upstream(.timeout): return "upstream_timeout"
        case .upstream(.protocolError): return "bad_gateway"
        case .upstream(.reset): return "upstream_reset"
        case .noHealthyUpstream: return "no_healthy_upstream"
        }
    }

    /// The message of the JSON answer (built only when an answer is made).
    func message(backend: String, bodyLimit: RequestBodyLimit) -> String {
        switch self {
        case .requestBodyStalled: return "request body stalled for longer than body_idle_timeout"
        case .bodyTooLarge: return bodyLimit.message
        case .badRequestBody(let e): return e.message
        case .upstream(.connect): return "could not connect to backend \(backend)"
        case .upstream(.timeout): return "backend \(backend) did not answer in time"
        case .upstream(.protocolError): return "backend \(backend) sent an invalid response"
        case .upstream(.reset): return "backend \(backend) closed or reset the connection before responding"
        case .noHealthyUpstream: return "no healthy endpoint in backend \(backend)"
        }
    }

    /// Counted as the target's error: the backend's failures are, the client's faults are not.
    var blamesTarget: Bool {
        switch self {
        case .upstream, .noHealthyUpstream: return true
        case .requestBodyStalled, .bodyTooLarge, .badRequestBody: return false
        }
    }

    /// The global counter this answer adds to (`noHealthyUpstream` is counted where the endpoint is chosen).
    var counter: GlobalCounter? {
        switch self {
        case .requestBodyStalled: return .bodyTimeouts
        case .bodyTooLarge: return .bodyTooLarge
        case .badRequestBody: return .requestsParsedError
        case .upstream(.connect): return .upstreamConnectFailures
        case .upstream(.timeout): return .upstreamTimeouts
        case .upstream(.protocolError): return .upstreamProtocolErrors
        case .upstream(.reset): return .upstreamResets
        case .noHealthyUpstream: return nil
        }
    }
}

/// What happens to the upstream side when an exchange ends.
enum UpstreamRelease: Equatable {
    /// Nothing is held.
    case none
    /// HTTP/1.1: the connection is idle and clean, back to the pool.
    case pool
    /// HTTP/1.1: close the connection.
    case close
    /// HTTP/2: the stream ended on both sides (or the backend already closed it); let it go.
    case endStream
    /// HTTP/2: the stream is unfinished; reset it (CANCEL).
    case resetStream
}

/// What the client side does once the exchange's answer is complete.
enum ClientNext: Equatable {
    /// The request was complete: an HTTP/1.1 connection may take the next request; an HTTP/2 stream is done.
    case ready
    /// HTTP/1.1 client still sending a body nobody will read: close the connection after the answer.
    case closeAfterAnswer
    /// HTTP/2 client still sending: its DATA is credited and dropped until it ends the stream,
    /// bounded by `body_idle_timeout` (see ``ExchangeMachine/deadline``).
    case awaitRequestEnd
    /// Give the client side up: an HTTP/2 stream answered long ago whose client never ended it is reset.
    case cancel
}

/// How an exchange ended: what to do with the upstream, what to record, what the client side does next.
struct ExchangeEnd: Equatable {
    var upstream: UpstreamRelease
    /// The status recorded for the target (0: no complete answer reached the client) and whether
    /// it counts as the target's error; nil when the exchange was already recorded.
    var outcome: ExchangeOutcome?
    var client: ClientNext
}

/// One record in the target's stats.
struct ExchangeOutcome: Equatable {
    var status: Int
    var isError: Bool
}

/// What the adapter around an ``ExchangeMachine`` does after an event.
enum ExchangeAction: Equatable {
    /// Nothing (the event does not apply in this state).
    case none
    /// Pass the piece (body bytes, the end, the response head) on to the other side.
    case forward
    /// Drop the request piece (credit it on HTTP/2): the answer is already complete.
    case discard
    /// Nothing was sent to the client yet: answer with the error (JSON, or gRPC trailers-only).
    case answer(ExchangeError, ExchangeEnd)
    /// The response already started: cut it so the client never takes it as complete
    /// (HTTP/1.1: close the connection; HTTP/2: reset the stream, or gRPC trailers with the
    /// error's status).
    case cut(ExchangeError, ExchangeEnd)
    /// Send the kept copy of the request once more on a fresh connection (a pooled connection
    /// turned out to be closed by the backend before answering).
    case retry
    /// The response is complete.
    case finish(ExchangeEnd)
    /// Give up quietly (the client went away, or an answered HTTP/2 stream was never ended).
    case abandon(ExchangeEnd)
    /// The deadline moved (request DATA came after it was set): wait until then.
    case wait(UInt64)
}

/// The lifecycle of one proxied request, the same on every protocol pair (HTTP/1.1 or HTTP/2 on
/// either side). A value type with no I/O and no clock: the adapters around it (the HTTP/1.1
/// connection, the HTTP/2 stream) turn codec events into calls here and carry out the returned
/// ``ExchangeAction``. It is the one place for the rules of timeouts (``ExchangeTimer``), the body
/// limit (``RequestBodyLimit``), the answer to every failure, the single retry, upstream reuse,
/// and what is recorded in the stats.
///
/// ```
///             begin ──► uploading ──requestEnd──► awaitingHead
///                           │                          │
///                     responseHead                responseHead
///                           ▼                          ▼
///                       streaming ───requestEnd───► responding
///                           │                          │
///                      responseEnd                responseEnd
///                           ▼                          ▼
///              answered (HTTP/2 client) ──end──►     done
/// ```
/// Failures, timeouts and a client going away lead to `done` (or `answered`) from any state.
struct ExchangeMachine {
    enum State: Equatable {
        /// No exchange.
        case idle
        /// Routed; the client still sends its body; no response head yet.
        case uploading
        /// The request is complete; waiting for the response head.
        case awaitingHead
        /// The response head was forwarded before the request body ended (the backend answered early).
        case streaming
        /// The response head was forwarded; the request is complete.
        case responding
        /// The answer is complete, but the HTTP/2 client has not ended its request stream yet.
        case answered
        /// Over.
        case done
    }

    private(set) var state = State.idle
    private(set) var protocols = ExchangeProtocols(client: .http1, backend: .http1)
    /// The deadline rules (request timeout to the last response byte, body idle).
    private(set) var timer = ExchangeTimer()
    /// The request body limit.
    private(set) var bodyLimit = RequestBodyLimit()
    /// Retries still allowed (one per exchange).
    private(set) var retriesLeft = 0
    /// The response status (0 before the head).
    private(set) var status = 0
    /// The current deadline (0: none).
    private(set) var deadline: UInt64 = 0
    /// A target was chosen (an exchange answered before routing records nothing and holds no upstream).
    private(set) var isRouted = false
    /// When the client last sent request body bytes (a piece only notes it; ``timeout(now:)``
    /// moves a deadline that passed to the one it gives).
    private var lastRequestPieceAt: UInt64 = 0

    /// The client's request body is still owed.
    var requestDone: Bool {
        switch state {
        case .uploading, .streaming, .answered: return false
        case .idle, .awaitingHead, .responding, .done: return true
        }
    }

    /// The response head was sent to the client (or an answer was made).
    var responseStarted: Bool {
        switch state {
        case .streaming, .responding, .answered, .done: return true
        case .idle, .uploading, .awaitingHead: return false
        }
    }

    /// The exchange is in flight (neither idle nor over).
    var isActive: Bool { state != .idle && state != .done && state != .answered }

    /// Starts a routed exchange at `now`; returns its first deadline.
    @inline(__always)
    mutating func begin(_ protocols: ExchangeProtocols, now: UInt64, requestDone: Bool,
                        requestTimeout: UInt64, bodyIdle: UInt64, maxBody: UInt64) -> UInt64 {
        self.protocols = protocols
        isRouted = true
        state = requestDone ? .awaitingHead : .uploading
        timer.start(request: requestTimeout, bodyIdle: bodyIdle)
        bodyLimit.start(max: maxBody)
        retriesLeft = 1
        status = 0
        lastRequestPieceAt = now
        return arm(now)
    }

    /// Starts an exchange that is answered before it is routed (a malformed request, no route):
    /// only the body idle rule bounds what the client still sends.
    mutating func beginUnrouted(_ protocols: ExchangeProtocols, now: UInt64, requestDone: Bool, bodyIdle: UInt64) {
        _ = begin(protocols, now: now, requestDone: requestDone, requestTimeout: bodyIdle, bodyIdle: bodyIdle, maxBody: .max)
        isRouted = false
    }

    /// Whether a declared `content-length` is within the body limit (checked before anything is forwarded).
    @inline(__always)
    func allows(declaredLength n: UInt64) -> Bool { bodyLimit.allows(declared: n) }

    /// `n` payload bytes of request body arrived at `now`.
    @inline(__always)
    mutating func requestBody(_ n: Int, now: UInt64) -> ExchangeAction {
        switch state {
        case .uploading, .streaming:
            if !bodyLimit.admit(n) { return fail(.bodyTooLarge, now: now) }
            lastRequestPieceAt = now
            _ = arm(now)
            return .forward
        case .answered:
            lastRequestPieceAt = now
            return .discard
        case .idle, .awaitingHead, .responding, .done:
            return .discard
        }
    }

    /// The client ended its request at `now`.
    @inline(__always)
    mutating func requestEnd(now: UInt64) -> ExchangeAction {
        switch state {
        case .uploading:
            state = .awaitingHead
        case .streaming:
            state = .responding
        case .answered:
            state = .done
            deadline = 0
            return .discard
        case .idle, .awaitingHead, .responding, .done:
            return .none
        }
        _ = arm(now)
        return .forward
    }

    /// The backend's final response head (status ≥ 200) arrived at `now`.
    @inline(__always)
    mutating func responseHead(status: Int, now: UInt64) -> ExchangeAction {
        switch state {
        case .uploading: state = .streaming
        case .awaitingHead: state = .responding
        case .idle, .streaming, .responding, .answered, .done: return .none
        }
        self.status = status
        _ = arm(now)
        return .forward
    }

    /// A piece of response body was forwarded at `now`; returns the new deadline.
    @inline(__always)
    mutating func responseBody(now: UInt64) -> UInt64 { arm(now) }

    /// The response ended. `upstreamReusable`: an HTTP/1.1 backend's connection is clean and
    /// kept alive (nothing unread, no close asked for). `failed`: the answer counts as the
    /// target's error although its HTTP status does not say so (a gRPC status other than 0).
    mutating func responseEnd(now: UInt64, upstreamReusable: Bool, failed: Bool = false) -> ExchangeAction {
        let requestWasDone: Bool
        switch state {
        case .responding: requestWasDone = true
        case .streaming: requestWasDone = false
        case .idle, .uploading, .awaitingHead, .answered, .done: return .none
        }
        let upstream: UpstreamRelease
        switch protocols.backend {
        case .http1: upstream = requestWasDone && upstreamReusable ? .pool : .close
        // A backend that answered before the request body ended gets its stream reset, not left open.
        case .http2: upstream = requestWasDone ? .endStream : .resetStream
        }
        let outcome = ExchangeOutcome(status: status, isError: failed || status >= 500)
        return .finish(ExchangeEnd(upstream: upstream, outcome: outcome, client: settle(now: now)))
    }

    /// The upstream failed. `replayable`: the request was sent on a reused pooled connection, a
    /// copy of it was kept, and nothing of a response arrived (the backend closed a stale
    /// connection). `upstreamGone`: the backend already closed or reset the HTTP/2 stream.
    mutating func upstreamFailed(_ error: ExchangeError, now: UInt64, replayable: Bool = false,
                                 upstreamGone: Bool = false) -> ExchangeAction {
        guard isActive else { return .none }
        if error == .upstream(.reset), replayable, retriesLeft > 0, !responseStarted {
            retriesLeft -= 1
            return .retry
        }
        return fail(error, now: now, upstreamGone: upstreamGone)
    }

    /// Ends the exchange with `error` (a client fault the codec found, such as broken chunk framing,
    /// or a failure): answered if nothing was sent yet, else cut.
    mutating func fail(_ error: ExchangeError, now: UInt64, upstreamGone: Bool = false) -> ExchangeAction {
        guard isActive else { return .none }
        let started = responseStarted
        let upstream: UpstreamRelease
        switch (isRouted, protocols.backend) {
        case (false, _): upstream = .none
        case (true, .http1): upstream = .close
        case (true, .http2): upstream = upstreamGone ? .endStream : .resetStream
        }
        let outcome = isRouted ? ExchangeOutcome(status: started ? 0 : error.status, isError: error.blamesTarget) : nil
        let client: ClientNext
        switch (started, protocols.client) {
        case (false, _): client = settle(now: now)
        case (true, .http1): client = .closeAfterAnswer
        // A cut HTTP/2 stream whose client still sends is given up whole (a stream ended with
        // trailers would otherwise stay half open for as long as the client likes).
        case (true, .http2): client = requestDone ? .ready : .cancel
        }
        let end = ExchangeEnd(upstream: upstream, outcome: outcome, client: client)
        if started {
            // A cut HTTP/2 stream is over whatever the client still sends (it was reset or ended with trailers).
            state = .done
            deadline = 0
            return .cut(error, end)
        }
        return .answer(error, end)
    }

    /// The exchange's deadline passed at `now`.
    mutating func timeout(now: UInt64) -> ExchangeAction {
        switch state {
        case .idle, .done:
            return .none
        case .answered:
            if let moved = movedDeadline(now: now) {
                deadline = moved
                return .wait(moved)
            }
            // Answered, but the client never finished its request: nothing holds the stream any longer.
            state = .done
            deadline = 0
            return .abandon(ExchangeEnd(upstream: .none, outcome: nil, client: .cancel))
        case .uploading, .streaming:
            if let moved = movedDeadline(now: now) {
                deadline = moved
                return .wait(moved)
            }
        case .awaitingHead, .responding:
            break
        }
        switch ExchangeTimer.expiry(requestDone: requestDone, responseStarted: responseStarted) {
        case .requestBodyStalled: return fail(.requestBodyStalled, now: now)
        case .upstreamTimedOut: return fail(.upstream(.timeout), now: now)
        }
    }

    /// The client went away (connection closed, stream reset): the upstream side is dropped and
    /// the exchange recorded with no status.
    mutating func clientGone() -> ExchangeAction {
        let recorded = !isActive || !isRouted
        if state == .idle || state == .done { return .none }
        let upstream: UpstreamRelease
        switch (recorded, protocols.backend) {
        case (true, _): upstream = .none
        case (false, .http1): upstream = .close
        case (false, .http2): upstream = .resetStream
        }
        state = .done
        deadline = 0
        return .abandon(ExchangeEnd(upstream: upstream, outcome: recorded ? nil : ExchangeOutcome(status: 0, isError: false),
                                    client: .ready))
    }

    /// An answer Sluice made itself was sent (before routing, or for an ``ExchangeAction/answer(_:_:)``):
    /// the exchange is over unless the client still sends.
    mutating func answerSent(now: UInt64) { _ = settle(now: now) }

    // MARK: internals

    /// Moves to `done`, or to `answered` when the client still owes request body; what the client side does next.
    private mutating func settle(now: UInt64) -> ClientNext {
        if requestDone {
            state = .done
            deadline = 0
            return .ready
        }
        switch protocols.client {
        case .http1:
            state = .done
            deadline = 0
            return .closeAfterAnswer
        case .http2:
            state = .answered
            lastRequestPieceAt = now
            _ = arm(now)
            return .awaitRequestEnd
        }
    }

    /// A later deadline from request pieces that came after the current one was set, if any.
    private func movedDeadline(now: UInt64) -> UInt64? {
        var t = timer
        let moved = t.deadline(now: lastRequestPieceAt, requestDone: false, responseStarted: responseStarted)
        return moved > now ? moved : nil
    }

    @inline(__always)
    private mutating func arm(_ now: UInt64) -> UInt64 {
        deadline = timer.deadline(now: now, requestDone: requestDone, responseStarted: responseStarted)
        return deadline
    }
}

/// A downstream adapter around an ``ExchangeMachine`` (the HTTP/1.1 connection, the HTTP/2
/// stream): how it carries out each action. ``perform(_:)`` dispatches them the same way for both.
protocol ExchangeAdapter: AnyObject {
    /// Sets the adapter's deadline (a passed one moved: request data came after it was set).
    func waitUntil(_ deadline: UInt64)
    /// ``ExchangeAction/retry``: the kept request once more, on a fresh connection.
    func retryOnFreshConnection()
    /// ``ExchangeAction/answer(_:_:)`` (`answer`) or ``ExchangeAction/cut(_:_:)``.
    func endWithError(_ error: ExchangeError, _ end: ExchangeEnd, answer: Bool)
    /// ``ExchangeAction/finish(_:)``.
    func finishExchange(_ end: ExchangeEnd)
    /// ``ExchangeAction/abandon(_:)``.
    func abandonExchange(_ end: ExchangeEnd)
}

extension ExchangeAdapter {
    /// Carries out what the exchange machine decided.
    @inline(__always)
    func perform(_ action: ExchangeAction) {
        switch action {
        case .none, .forward, .discard: return
        case .wait(let d): waitUntil(d)
        case .retry: retryOnFreshConnection()
        case .answer(let error, let end): endWithError(error, end, answer: true)
        case .cut(let error, let end): endWithError(error, end, answer: false)
        case .finish(let end): finishExchange(end)
        case .abandon(let end): abandonExchange(end)
        }
    }
}
