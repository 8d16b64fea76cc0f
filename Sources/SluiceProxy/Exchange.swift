import SluiceHTTP1
import SluiceRouting
import SluiceStats

/// How the response body is carried to the client.
enum ResponseBodyMode: Equatable {
    /// No body (HEAD, 1xx, 204, 304, or Content-Length: 0).
    case none
    /// Content-Length: forwarded as it comes (the reader counts the bytes).
    case length
    /// Chunked from the backend, forwarded verbatim (validated on the way).
    case chunkedPassThrough
    /// Chunked from the backend to an HTTP/1.0 client: payload only, then close.
    case chunkedDecoded
    /// Delimited by the backend closing; re-chunked for an HTTP/1.1 client so its connection survives.
    case closeDelimited(rechunk: Bool)
}

/// How the request body is carried to the backend.
enum RequestBodyMode: Equatable {
    case none
    case length(UInt64)
    case chunked
}

/// Per-request state of an HTTP/1.1 downstream connection, reset (not reallocated) between
/// requests. The lifecycle (what is owed, what was sent, deadlines, limit, retry) is the
/// ``ExchangeMachine``'s; the rest is what the HTTP/1.1 codec needs to carry bytes.
struct Exchange {
    var decision = Decision(route: 0, target: 0, backend: 0, reason: .weighted, shadow: false)
    var snapshot: ProxySnapshot?
    var startedAt: UInt64 = 0
    var requestID: [UInt8] = []
    var requestIDGenerated = false
    var isHEAD = false
    var clientMinor = 1
    var clientKeepAlive = true
    var requestBody = RequestBodyMode.none
    var responseBody = ResponseBodyMode.none
    var responseKeepAlive = false
    /// A copy of the whole request was kept (`replay`) before it went out on a reused connection.
    var replayable = false
    /// The lifecycle of this exchange, the same on every protocol pair.
    var machine = ExchangeMachine()
    /// The shadow copy of this request, while the primary runs.
    var shadow: ShadowExchange?
    /// HTTP/2 upstream stream (backends with `protocol: h2`).
    var h2Upstream: H2UpstreamConnection?
    var h2Stream: Int32 = 0
    /// Response DATA held back from the h2 upstream's window while the client is slow.
    var h2Unconsumed = 0
    /// The h2 response carries content-length (else it is chunked or close-delimited to the client).
    var h2Chunked = false
    /// The `:status` of the h2 response head being collected.
    var h2Status = 0
    /// Sampled for the access log: method and path were copied into the connection's `logScratch`.
    var logged = false
    var logMethodLength = 0

    mutating func reset() {
        snapshot = nil
        shadow = nil
        h2Upstream = nil
        h2Stream = 0
        h2Unconsumed = 0
        h2Chunked = false
        h2Status = 0
        logged = false
        requestIDGenerated = false
        requestBody = .none
        responseBody = .none
        responseKeepAlive = false
        replayable = false
    }
}
