/// The request body limit of one exchange (the route's `max_request_body`, else
/// `limits.max_request_body`), checked the same way on every protocol pair: a declared length above
/// it is refused before anything is forwarded, and payload bytes (chunk framing and HTTP/2 frame
/// headers not counted) are counted as they arrive. Either way the answer is 413 `body_too_large`,
/// counted in `body_too_large_total`.
struct RequestBodyLimit {
    /// Most payload bytes allowed.
    private(set) var max: UInt64 = 0
    /// Payload bytes counted so far.
    private(set) var received: UInt64 = 0

    /// Starts counting for a request whose route allows `max` bytes (callers read it through the
    /// route table in place: a copy of the Route or the table would retain each of its arrays).
    @inline(__always)
    mutating func start(max: UInt64) {
        self.max = max
        received = 0
    }

    /// Whether a declared length (`content-length`) is within the limit.
    @inline(__always)
    func allows(declared n: UInt64) -> Bool { n <= max }

    /// Counts `n` more payload bytes; false once the total is above the limit.
    @inline(__always)
    mutating func admit(_ n: Int) -> Bool {
        received &+= UInt64(n)
        return received <= max
    }

    static let status = 413
    static let code = "body_too_large"
    /// The message of the 413 answer.
    var message: String { "request body exceeds the route's limit of \(max) bytes" }
}
