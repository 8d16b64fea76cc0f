import SluiceHTTP1
@testable import SluiceProxy
import Testing

/// The exchange's lifecycle on all four protocol pairs, in memory: events in, actions out, an
/// explicit clock (no sockets, no sleeping). The same test body runs on every pair; where the
/// pairs differ (how an upstream is let go, what an unfinished client side does) the expectation
/// says so.
@Suite struct ExchangeMachineTests {
    static let s: UInt64 = 1_000_000_000
    static let pairs: [ExchangeProtocols] = [
        .init(client: .http1, backend: .http1), .init(client: .http1, backend: .http2),
        .init(client: .http2, backend: .http1), .init(client: .http2, backend: .http2),
    ]

    /// request timeout 30 s, body idle 5 s, body limit 1,000 bytes, started at 100 s.
    static func started(_ p: ExchangeProtocols, requestDone: Bool) -> ExchangeMachine {
        var m = ExchangeMachine()
        _ = m.begin(p, now: 100 * s, requestDone: requestDone, requestTimeout: 30 * s, bodyIdle: 5 * s, maxBody: 1_000)
        return m
    }

    /// How a finished upstream is let go when the request was complete.
    static func clean(_ p: ExchangeProtocols) -> UpstreamRelease { p.backend == .http1 ? .pool : .endStream }
    /// How an unfinished upstream is let go.
    static func dropped(_ p: ExchangeProtocols) -> UpstreamRelease { p.backend == .http1 ? .close : .resetStream }
    /// What a client still sending does once answered.
    static func unfinished(_ p: ExchangeProtocols) -> ClientNext { p.client == .http1 ? .closeAfterAnswer : .awaitRequestEnd }

    @Test(arguments: pairs) func aCompleteExchangeIsRecordedOnceAndItsUpstreamReused(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        #expect(m.state == .uploading)
        #expect(m.deadline == 105 * Self.s)
        #expect(m.requestBody(400, now: 101 * Self.s) == .forward)
        #expect(m.deadline == 106 * Self.s)
        #expect(m.requestEnd(now: 102 * Self.s) == .forward)
        #expect(m.state == .awaitingHead)
        #expect(m.deadline == 132 * Self.s)
        #expect(m.responseHead(status: 200, now: 103 * Self.s) == .forward)
        #expect(m.state == .responding)
        #expect(m.responseBody(now: 104 * Self.s) == 109 * Self.s)
        let end = ExchangeEnd(upstream: Self.clean(p), outcome: ExchangeOutcome(status: 200, isError: false), client: .ready)
        #expect(m.responseEnd(now: 105 * Self.s, upstreamReusable: true) == .finish(end))
        #expect(m.state == .done)
        #expect(m.deadline == 0)
        // Nothing more happens to a finished exchange.
        #expect(m.responseEnd(now: 106 * Self.s, upstreamReusable: true) == .none)
        #expect(m.clientGone() == .none)
        #expect(m.timeout(now: 200 * Self.s) == .none)
    }

    @Test(arguments: pairs) func anHTTP1BackendThatAsksToCloseIsNotPooled(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: true)
        _ = m.responseHead(status: 503, now: 101 * Self.s)
        let end = ExchangeEnd(upstream: p.backend == .http1 ? .close : .endStream,
                              outcome: ExchangeOutcome(status: 503, isError: true), client: .ready)
        #expect(m.responseEnd(now: 102 * Self.s, upstreamReusable: false) == .finish(end))
    }

    @Test(arguments: pairs) func aGRPCErrorStatusCountsAsTheTargetsError(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: true)
        _ = m.responseHead(status: 200, now: 101 * Self.s)
        guard case .finish(let end) = m.responseEnd(now: 102 * Self.s, upstreamReusable: true, failed: true) else {
            Issue.record("no finish")
            return
        }
        #expect(end.outcome == ExchangeOutcome(status: 200, isError: true))
    }

    @Test(arguments: pairs) func aBackendAnsweringBeforeTheBodyEndsIsLetGoAndTheClientSideBounded(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        _ = m.requestBody(10, now: 101 * Self.s)
        #expect(m.responseHead(status: 200, now: 102 * Self.s) == .forward)
        #expect(m.state == .streaming)
        // The upload keeps moving the deadline while the answer streams (never past the request timeout).
        #expect(m.requestBody(10, now: 103 * Self.s) == .forward)
        let end = ExchangeEnd(upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 200, isError: false), client: Self.unfinished(p))
        #expect(m.responseEnd(now: 104 * Self.s, upstreamReusable: true) == .finish(end))
        if p.client == .http2 {
            // The stream stays open for what the client still sends: credited and dropped, bounded by body idle.
            #expect(m.state == .answered)
            #expect(m.deadline == 109 * Self.s)
            #expect(m.requestBody(10, now: 106 * Self.s) == .discard)
            #expect(m.timeout(now: 109 * Self.s) == .wait(111 * Self.s))
            #expect(m.timeout(now: 111 * Self.s) == .abandon(ExchangeEnd(upstream: .none, outcome: nil, client: .cancel)))
            #expect(m.state == .done)
        } else {
            #expect(m.state == .done)
        }
    }

    @Test(arguments: pairs) func anAnsweredHTTP2StreamEndsWhenItsClientEndsIt(_ p: ExchangeProtocols) {
        guard p.client == .http2 else { return }
        var m = Self.started(p, requestDone: false)
        _ = m.responseHead(status: 200, now: 101 * Self.s)
        _ = m.responseEnd(now: 102 * Self.s, upstreamReusable: true)
        #expect(m.requestEnd(now: 103 * Self.s) == .discard)
        #expect(m.state == .done)
        #expect(m.deadline == 0)
    }

    @Test(arguments: pairs) func aStalledUploadIsAnswered408AndNotTheTargetsError(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        _ = m.requestBody(10, now: 101 * Self.s)
        // A later piece only notes its time: the passed deadline moves instead of firing.
        _ = m.requestBody(10, now: 103 * Self.s)
        #expect(m.timeout(now: 108 * Self.s) == .answer(.requestBodyStalled, ExchangeEnd(
            upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 408, isError: false), client: Self.unfinished(p))))
        #expect(ExchangeError.requestBodyStalled.counter == .bodyTimeouts)
    }

    @Test(arguments: pairs) func aPassedDeadlineMovesWhenRequestDataCameLater(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        _ = m.requestBody(10, now: 100 * Self.s)
        #expect(m.deadline == 105 * Self.s)
        // An HTTP/2 stream notes DATA without re-arming its connection's timer: the check moves it.
        _ = m.requestBody(10, now: 104 * Self.s)
        #expect(m.timeout(now: 105 * Self.s) == .wait(109 * Self.s))
        #expect(m.deadline == 109 * Self.s)
        #expect(m.state == .uploading)
    }

    @Test(arguments: pairs) func noHeadInTimeIs504AndTheTargetsError(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: true)
        #expect(m.deadline == 130 * Self.s)
        #expect(m.timeout(now: 130 * Self.s) == .answer(.upstream(.timeout), ExchangeEnd(
            upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 504, isError: true), client: .ready)))
        #expect(ExchangeError.upstream(.timeout).status == 504)
        #expect(ExchangeError.upstream(.timeout).code == "upstream_timeout")
    }

    @Test(arguments: pairs) func aBackendThatStallsAfterItsHeadIsCutAtTheRequestTimeout(_ p: ExchangeProtocols) {
        // The gRPC case: headers, then nothing. The cut carries 504 (grpc-status 4 on HTTP/2).
        var m = Self.started(p, requestDone: true)
        _ = m.responseHead(status: 200, now: 101 * Self.s)
        for t in stride(from: 102, through: 129, by: 3) { _ = m.responseBody(now: UInt64(t) * Self.s) }
        #expect(m.deadline == 130 * Self.s)
        let client: ClientNext = p.client == .http1 ? .closeAfterAnswer : .ready
        #expect(m.timeout(now: 130 * Self.s) == .cut(.upstream(.timeout), ExchangeEnd(
            upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 0, isError: true), client: client)))
        #expect(m.state == .done)
        #expect(GRPCStatus.code(forHTTPStatus: ExchangeError.upstream(.timeout).status).description == "4")
    }

    @Test(arguments: pairs) func theBodyLimitAnswers413BeforeTheResponseAndCutsAfterIt(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        #expect(m.allows(declaredLength: 1_000))
        #expect(!m.allows(declaredLength: 1_001))
        #expect(m.requestBody(800, now: 101 * Self.s) == .forward)
        #expect(m.requestBody(201, now: 102 * Self.s) == .answer(.bodyTooLarge, ExchangeEnd(
            upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 413, isError: false), client: Self.unfinished(p))))
        #expect(ExchangeError.bodyTooLarge.counter == .bodyTooLarge)

        var n = Self.started(p, requestDone: false)
        _ = n.responseHead(status: 200, now: 101 * Self.s)
        guard case .cut(.bodyTooLarge, let end) = n.requestBody(1_001, now: 102 * Self.s) else {
            Issue.record("not cut")
            return
        }
        #expect(end.outcome == ExchangeOutcome(status: 0, isError: false))
    }

    @Test(arguments: pairs) func aStalePooledConnectionIsRetriedOnceOnly(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: true)
        #expect(m.upstreamFailed(.upstream(.reset), now: 101 * Self.s, replayable: true) == .retry)
        #expect(m.upstreamFailed(.upstream(.reset), now: 102 * Self.s, replayable: true) == .answer(.upstream(.reset), ExchangeEnd(
            upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 502, isError: true), client: .ready)))
        // Not replayable (a body that was not kept, a fresh connection): answered at once.
        var n = Self.started(p, requestDone: true)
        guard case .answer(.upstream(.reset), _) = n.upstreamFailed(.upstream(.reset), now: 101 * Self.s) else {
            Issue.record("not answered")
            return
        }
        // Other failures are never retried.
        var c = Self.started(p, requestDone: true)
        guard case .answer(.upstream(.connect), let end) = c.upstreamFailed(.upstream(.connect), now: 101 * Self.s, replayable: true) else {
            Issue.record("not answered")
            return
        }
        #expect(end.outcome == ExchangeOutcome(status: 503, isError: true))
    }

    @Test(arguments: pairs) func aCutWhileTheClientStillSendsGivesTheClientSideUp(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        _ = m.responseHead(status: 200, now: 101 * Self.s)
        guard case .cut(.upstream(.timeout), let end) = m.timeout(now: 131 * Self.s) else {
            Issue.record("not cut")
            return
        }
        // HTTP/1.1: the connection closes; HTTP/2: the stream is reset after its trailers, never left half open.
        #expect(end.client == (p.client == .http1 ? .closeAfterAnswer : .cancel))
        #expect(m.state == .done)
    }

    @Test(arguments: pairs) func aFailureAfterTheHeadIsACutNeverARetry(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: true)
        _ = m.responseHead(status: 200, now: 101 * Self.s)
        guard case .cut(.upstream(.reset), let end) = m.upstreamFailed(.upstream(.reset), now: 102 * Self.s, replayable: true,
                                                                         upstreamGone: true) else {
            Issue.record("not cut")
            return
        }
        // A stream the backend already reset is let go, not reset again.
        #expect(end.upstream == (p.backend == .http1 ? .close : .endStream))
        #expect(end.outcome == ExchangeOutcome(status: 0, isError: true))
    }

    @Test(arguments: pairs) func aClientGoingAwayDropsTheUpstreamAndRecordsNoStatus(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        _ = m.requestBody(10, now: 101 * Self.s)
        #expect(m.clientGone() == .abandon(ExchangeEnd(upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 0, isError: false),
                                                       client: .ready)))
        #expect(m.state == .done)
        #expect(m.clientGone() == .none)
        #expect(m.requestBody(10, now: 102 * Self.s) == .discard)
    }

    @Test(arguments: pairs) func aBrokenRequestBodyGetsTheParsersStatus(_ p: ExchangeProtocols) {
        var m = Self.started(p, requestDone: false)
        let e = HTTP1Error(status: 400, code: "bad_request", message: "bad chunk size")
        #expect(m.fail(.badRequestBody(e), now: 101 * Self.s) == .answer(.badRequestBody(e), ExchangeEnd(
            upstream: Self.dropped(p), outcome: ExchangeOutcome(status: 400, isError: false), client: Self.unfinished(p))))
        #expect(ExchangeError.badRequestBody(e).counter == .requestsParsedError)
    }

    @Test(arguments: pairs) func anUnroutedAnswerBoundsWhatTheClientStillSends(_ p: ExchangeProtocols) {
        var m = ExchangeMachine()
        m.beginUnrouted(p, now: 100 * Self.s, requestDone: false, bodyIdle: 5 * Self.s)
        m.answerSent(now: 100 * Self.s)
        if p.client == .http2 {
            #expect(m.state == .answered)
            #expect(m.deadline == 105 * Self.s)
            #expect(m.timeout(now: 105 * Self.s) == .abandon(ExchangeEnd(upstream: .none, outcome: nil, client: .cancel)))
        } else {
            #expect(m.state == .done)
        }
    }

    @Test func everyErrorHasOneAnswer() {
        let all: [ExchangeError] = [.requestBodyStalled, .bodyTooLarge, .upstream(.connect), .upstream(.timeout),
                                    .upstream(.protocolError), .upstream(.reset), .noHealthyUpstream]
        #expect(all.map(\.status) == [408, 413, 503, 504, 502, 502, 503])
        #expect(all.map(\.blamesTarget) == [false, false, true, true, true, true, true])
        var limit = RequestBodyLimit()
        limit.start(max: 42)
        #expect(ExchangeError.bodyTooLarge.message(backend: "v2", bodyLimit: limit).contains("42"))
        #expect(ExchangeError.upstream(.connect).message(backend: "v2", bodyLimit: limit) == "could not connect to backend v2")
    }
}
