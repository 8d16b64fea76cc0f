import SluiceCore
import SluiceStats

extension Worker {
    /// `UpstreamConnection.endpoint` of the placeholder connection `openUpstream` returns when
    /// every endpoint of the backend is unhealthy (the owner then answers 503 `no_healthy_upstream`).
    static let noHealthyEndpoint = -1

    /// The next usable endpoint of `backend`, round-robin, skipping endpoints that active checks
    /// marked unhealthy and endpoints this worker ejected. When all are out: the actively
    /// healthy endpoint ejected longest ago, or nil when every endpoint is unhealthy.
    /// Happy path: one relaxed atomic load per candidate, no allocation.
    @inline(__always)
    func pickEndpoint(backend: Int) -> Int? {
        let list = snapshot.backendEndpoints[backend]
        let health = snapshot.endpointHealth
        let now = loop.now
        var i = roundRobin[backend]
        for _ in 0..<list.count {
            let e = list[i]
            i = i + 1 == list.count ? 0 : i + 1
            if health[e].isHealthy && !outliers.isEjected(e, now: now) {
                roundRobin[backend] = i
                return e
            }
        }
        return outliers.fallback(list, health: health, now: now)
    }

    /// The placeholder (already closed) connection for a backend with no healthy endpoint;
    /// its owner reports `.connect` and answers 503 `no_healthy_upstream`.
    func noHealthyUpstream(backend: Int, owner: ExchangeHandler) -> UpstreamConnection {
        increment(.noHealthyUpstream)
        let address = snapshot.endpoints[snapshot.backendEndpoints[backend][0]]
        let c = UpstreamConnection(endpoint: Worker.noHealthyEndpoint, home: UpstreamPool(address: address), idleTimeout: 0)
        c.owner = owner
        c.loopOfOwnerless = loop
        c.state = .closed
        return c
    }

    /// A connect to `endpoint` (an index into `used.endpoints`) failed: count it for passive ejection.
    func reportConnectFailure(endpoint: Int, snapshot used: ProxySnapshot) {
        reportEndpointFailure(endpoint, used.configVersion)
    }

    /// A connect (TCP or TLS) to `endpoint`, an id of config version `configVersion`, failed:
    /// for HTTP/2 upstream connections, which are shared by streams of several snapshots.
    func reportConnectFailure(endpoint: Int, configVersion: Int) {
        reportEndpointFailure(endpoint, configVersion)
    }

    /// `endpoint` answered with `status`: a 5xx extends its failure streak, anything else resets it.
    @inline(__always)
    func reportEndpointResponse(endpoint: Int, status: Int, snapshot used: ProxySnapshot) {
        guard endpoint >= 0, used.configVersion == snapshot.configVersion, endpoint < snapshot.endpoints.count else { return }
        if status >= 500 {
            reportEndpointFailure(endpoint, used.configVersion)
        } else if outliers.recordSuccess(endpoint) {
            snapshot.endpointHealth[endpoint].ejections[index].mirror(outliers.entries[endpoint])
        }
    }

    private func reportEndpointFailure(_ endpoint: Int, _ usedVersion: Int) {
        // Endpoint ids are only meaningful within one config version; a report that straddles a
        // reload is dropped (rare, and only delays an ejection by one failure).
        guard endpoint >= 0, usedVersion == snapshot.configVersion, endpoint < snapshot.endpoints.count else { return }
        let now = loop.now
        if outliers.recordFailure(endpoint, now: now) {
            increment(.endpointEjections)
        }
        snapshot.endpointHealth[endpoint].ejections[index].mirror(outliers.entries[endpoint])
    }
}
