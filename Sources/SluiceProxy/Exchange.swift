import SluiceHTTP1
import SluiceRouting
import SluiceStats

/// How the response body is carried to the client.
enum ResponseBodyMode: Equatable {
    /// No body (HEAD, 1xx, 204, 304, or Content-Length: 0).
    case none
    /// Content-Length: forward exactly this many more bytes.
    case length(UInt64)
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

/// Per-request state of a downstream connection, reset (not reallocated) between requests.
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
    var requestBodyDone = true
    var bodyLimit = RequestBodyLimit()
    var responseHeadParsed = false
    var responseStarted = false
    var responseBody = ResponseBodyMode.none
    var responseDone = false
    var responseStatus = 0
    var responseKeepAlive = false
    var replayable = false
    var retried = false
    /// The exchange's deadlines (request body idle, request timeout to the last response byte).
    var timer = ExchangeTimer()
    /// The shadow copy of this request, while the primary runs.
    var shadow: ShadowExchange?
    /// HTTP/2 upstream stream (backends with `protocol: h2`).
    var h2Upstream: H2UpstreamConnection?
    var h2Stream: Int32 = 0
    /// Response DATA held back from the h2 upstream's window while the client is slow.
    var h2Unconsumed = 0
    /// The h2 response carries content-length (else it is chunked or close-delimited to the client).
    var h2Chunked = false
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
        logged = false
        requestIDGenerated = false
        requestBody = .none
        requestBodyDone = true
        responseHeadParsed = false
        responseStarted = false
        responseBody = .none
        responseDone = false
        responseStatus = 0
        responseKeepAlive = false
        replayable = false
        retried = false
    }
}
