/// What `/stats` and `/metrics` show about one endpoint of a backend.
public struct EndpointHealthRow: Sendable, Equatable {
    /// `host:port`.
    public var address: String
    /// Active-check verdict (true when the backend has no `health_check`).
    public var healthy: Bool
    /// Workers currently ejecting the endpoint (passive outlier detection).
    public var ejectedWorkers: Int
    /// Current streak of failed active probes.
    public var consecutiveFailures: Int
    /// Longest current streak of connect failures / 5xx any worker sees (passive).
    public var passiveConsecutiveFailures: Int
}

extension ProxySnapshot {
    /// The health rows of backend `backend`'s endpoints at monotonic time `now`.
    public func endpointHealthRows(backend: Int, now: UInt64) -> [EndpointHealthRow] {
        backendEndpoints[backend].map { e in
            let h = endpointHealth[e]
            let active = h.activeState
            return EndpointHealthRow(address: h.address, healthy: active.healthy, ejectedWorkers: h.ejectedWorkers(now: now),
                                     consecutiveFailures: active.consecutiveFailures,
                                     passiveConsecutiveFailures: h.passiveConsecutiveFailures)
        }
    }
}
