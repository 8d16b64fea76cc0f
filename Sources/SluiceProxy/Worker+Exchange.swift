import SluiceCore
import SluiceRouting
import SluiceStats

/// What every downstream adapter (the HTTP/1.1 connection, the HTTP/2 stream) does the same way
/// when its ``ExchangeMachine`` ends an exchange: one place for letting the upstream go (reuse),
/// recording the outcome, counting an answer, and reporting endpoints for passive ejection.
extension Worker {
    /// Lets go of an exchange's upstream side as the machine decided: an HTTP/1.1 connection goes
    /// back to its pool (unless the worker drains) or is closed; an HTTP/2 stream is ended or
    /// reset, and the response bytes held back from the backend's window while the client was slow
    /// are credited first (``H2UpstreamConnection/finishStream(_:unconsumed:reset:)``), whatever the
    /// reason, so abandoned streams never starve the shared connection.
    @inline(__always)
    func release(_ how: UpstreamRelease, h1: inout UpstreamConnection?, h2: inout H2UpstreamConnection?,
                 stream: Int32, unconsumed: inout Int) {
        if let up = h1 {
            h1 = nil
            if how == .pool && !draining {
                up.home.release(up, now: loop.now, loop: loop)
            } else {
                up.closeNow(loop: loop)
            }
        }
        if let c = h2 {
            h2 = nil
            c.finishStream(stream, unconsumed: unconsumed, reset: how != .endStream)
            unconsumed = 0
        }
    }

    /// Records one exchange in its target's stats and tells its shadow copy how the primary
    /// ended (status 0: it failed, no comparison). Returns the latency in microseconds.
    @inline(__always)
    @discardableResult
    func record(_ outcome: ExchangeOutcome, decision d: Decision, startedAt: UInt64, snapshot: ProxySnapshot,
                shadow: inout ShadowExchange?) -> UInt64 {
        if let s = shadow {
            shadow = nil
            s.primaryFinished(status: outcome.isError ? 0 : outcome.status)
        }
        let now = loop.now
        let micros = (now &- startedAt) / 1000
        let w = index
        snapshot.targetTable.with(route: d.route, target: d.target) {
            $0.recordResponse(worker: w, nowSecond: now / 1_000_000_000, status: outcome.status,
                              isError: outcome.isError || outcome.status >= 500, latencyMicros: micros)
        }
        return micros
    }

    /// Whether this exchange is sampled for the access log (`access_log.sample_rate`).
    @inline(__always)
    func sampleForAccessLog() -> Bool {
        // The threshold is 0 without an access log: no optional to unwrap (and retain) per request.
        accessLogThreshold != 0 && rng.next() <= accessLogThreshold
    }

    /// Pushes one exchange's record into this worker's access-log ring (the writer thread formats
    /// it); dropped and counted when the ring is full. The same record for both kinds of client.
    @inline(never)
    func writeAccessLog(method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer, requestID: [UInt8], client: [UInt8],
                        decision d: Decision, snapshot: ProxySnapshot, status: Int, micros: UInt64) {
        guard let ring = accessLog else { return }
        guard let slot = ring.reserve() else {
            increment(.accessLogDropped)
            return
        }
        requestID.withUnsafeBytes { id in
            client.withUnsafeBytes { client in
                AccessLogRecord.write(slot, wallTime: MonotonicClock.wallSeconds(), status: status, durationMicros: micros,
                                      method, path, id, snapshot.routeNames[d.route], snapshot.backendNames[d.backend], client)
            }
        }
        ring.commit()
    }

    /// Counts an answer the machine decided on, and reports a connect failure of `endpoint` to
    /// passive ejection (before the upstream is let go).
    @inline(never)
    func count(_ error: ExchangeError, endpoint: Int?, snapshot: ProxySnapshot) {
        if let c = error.counter { increment(c) }
        if error == .upstream(.connect), let e = endpoint, e != Worker.noHealthyEndpoint {
            reportConnectFailure(endpoint: e, snapshot: snapshot)
        }
    }

    /// The error a failed upstream means: a connect failure on the placeholder of a backend with no
    /// healthy endpoint is `noHealthyUpstream`.
    @inline(__always)
    static func exchangeError(_ failure: UpstreamFailure, endpoint: Int?) -> ExchangeError {
        failure == .connect && endpoint == Worker.noHealthyEndpoint ? .noHealthyUpstream : .upstream(failure)
    }
}

extension Worker {
    /// The single retry (``ExchangeAction/retry``): the stale connection is closed, counted, and a
    /// fresh one to `backend` opened for `owner`. The caller holds it (before anything can call
    /// back) and sends the kept copy of the request with ``replay(_:on:)``; nil when even the
    /// fresh connection could not be opened (then answer the connect failure).
    func retry(closing stale: UpstreamConnection?, backend: Int, owner: ExchangeHandler, snapshot: ProxySnapshot) -> UpstreamConnection {
        stale?.closeNow(loop: loop)
        increment(.upstreamRetries)
        return openUpstream(backend: backend, owner: owner)
    }

    /// Sends the kept copy of a request on the fresh connection of a retry.
    func replay(_ replay: [UInt8], on fresh: UpstreamConnection) {
        fresh.output.append(replay)
        if fresh.state == .active { fresh.flush() }
    }

    /// Reports the status an exchange's endpoint answered with, for passive ejection. An HTTP/1.1
    /// connection's endpoint is an id of the snapshot the exchange was routed with; an HTTP/2
    /// connection's, of the config version it was opened under (it outlives reloads).
    @inline(__always)
    func reportResponse(status: Int, h1: UpstreamConnection?, h2: H2UpstreamConnection?, routedWith: ProxySnapshot) {
        // Nearly every answer is a success from an endpoint with no failure streak: nothing to
        // record, and the check reads without the mutating access that retained the table 6 times.
        if status < 500, let e = h1?.endpoint ?? h2?.endpoint, e >= 0, e < outliers.entries.count,
           outliers.entries[e].consecutiveFailures == 0 { return }
        if let up = h1 {
            reportEndpointResponse(endpoint: up.endpoint, status: status, snapshot: routedWith)
        } else if let c = h2, c.configVersion == snapshot.configVersion {
            reportEndpointResponse(endpoint: c.endpoint, status: status, snapshot: snapshot)
        }
    }
}
