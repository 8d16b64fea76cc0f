/// Merged, point-in-time view of one route's `ShadowStats` (reader side).
public struct ShadowSnapshot: Sendable, Equatable {
    /// Requests sent to the shadow upstream.
    public var mirrored: UInt64
    /// Requests selected for mirroring but dropped, summed over all reasons.
    public var dropped: UInt64
    /// Drops per reason; every `ShadowDropReason` has an entry (possibly 0).
    public var droppedByReason: [ShadowDropReason: UInt64]
    /// Mirrored exchanges that ended in an error (5xx, gRPC status != 0, timeout, connect failure, reset).
    public var errors: UInt64
    /// 99th percentile shadow latency over the last 60 s, milliseconds (0 when there were no results).
    public var p99Ms: Double
    /// Shadow responses compared with their primary response.
    public var compared: UInt64
    /// Of those, comparisons that agreed.
    public var agreed: UInt64
    /// `agreed / compared`, or 0 when nothing was compared (check `compared` before acting on it).
    public var agreementRate: Double
    /// Full result statistics of the mirrored exchanges (`requests` == `mirrored`; 60 s window).
    public var results: TargetSnapshot

    /// Creates a snapshot; totals and rates are derived from the arguments.
    public init(droppedByReason: [ShadowDropReason: UInt64], compared: UInt64, agreed: UInt64,
                results: TargetSnapshot) {
        var full: [ShadowDropReason: UInt64] = [:]
        var total: UInt64 = 0
        for reason in ShadowDropReason.allCases {
            let n = droppedByReason[reason] ?? 0
            full[reason] = n
            total &+= n
        }
        self.mirrored = results.requests
        self.dropped = total
        self.droppedByReason = full
        self.errors = results.errors
        self.p99Ms = results.window.p99Ms
        self.compared = compared
        self.agreed = agreed
        self.agreementRate = compared == 0 ? 0 : Double(agreed) / Double(compared)
        self.results = results
    }

    /// Mirrored exchanges that finished (with any outcome).
    public var completed: UInt64 { results.responses }
}
