/// The deadlines of one exchange, the same on every protocol pair (HTTP/1.1 or HTTP/2 on either
/// side): the one place the timeout rules live. No I/O and no clock of its own: callers pass the
/// loop's time and store the deadline it returns where their event loop looks for it.
///
/// - While the client still owes request body bytes, each piece restarts
///   `min(limits.body_idle_timeout, timeouts.request)`; a stall there is the client's fault (408).
/// - From the moment the request is complete (or the response head arrives first), the backend's
///   `timeouts.request` bounds the rest of the exchange, up to the last response byte, whether or
///   not the response head already arrived.
/// - After the response head, `limits.body_idle_timeout` also bounds the gap between two pieces
///   of response body.
struct ExchangeTimer {
    /// The backend's `timeouts.request`.
    var request: UInt64 = 0
    /// `limits.body_idle_timeout`.
    var bodyIdle: UInt64 = 0
    /// When the whole response must have been forwarded; 0 while the request is still arriving.
    var responseBy: UInt64 = 0

    /// Starts the timer of a new exchange.
    @inline(__always)
    mutating func start(request: UInt64, bodyIdle: UInt64) {
        self.request = request
        self.bodyIdle = bodyIdle
        responseBy = 0
    }

    /// The deadline after an event of the exchange at `now` (a piece of body either way, the
    /// request's end, the response head).
    @inline(__always)
    mutating func deadline(now: UInt64, requestDone: Bool, responseStarted: Bool) -> UInt64 {
        if responseBy == 0 && (requestDone || responseStarted) { responseBy = now &+ request }
        if responseStarted { return min(responseBy, now &+ bodyIdle) }
        if requestDone { return responseBy }
        return now &+ min(bodyIdle, request)
    }

    /// What a passed deadline means.
    enum Expiry: Equatable {
        /// The client stopped sending its request body before any response: 408, not the backend's fault.
        case requestBodyStalled
        /// The backend did not answer (or finish answering) in time: 504 before the head, a cut
        /// stream or connection (gRPC: `grpc-status: 4`) after it.
        case upstreamTimedOut
    }

    /// Classifies a deadline that passed.
    static func expiry(requestDone: Bool, responseStarted: Bool) -> Expiry {
        !requestDone && !responseStarted ? .requestBodyStalled : .upstreamTimedOut
    }
}
