@testable import SluiceProxy
import Testing

/// The timeout rules every protocol pair shares, driven with an explicit clock (no sockets, no sleeping).
@Suite struct ExchangeTimerTests {
    static let s: UInt64 = 1_000_000_000

    @Test func uploadingRestartsTheShorterOfBodyIdleAndRequest() {
        var t = ExchangeTimer()
        t.start(request: 30 * Self.s, bodyIdle: 5 * Self.s)
        #expect(t.deadline(now: 100 * Self.s, requestDone: false, responseStarted: false) == 105 * Self.s)
        #expect(t.deadline(now: 103 * Self.s, requestDone: false, responseStarted: false) == 108 * Self.s)
        #expect(ExchangeTimer.expiry(requestDone: false, responseStarted: false) == .requestBodyStalled)
        t.start(request: 2 * Self.s, bodyIdle: 60 * Self.s)
        #expect(t.deadline(now: 10 * Self.s, requestDone: false, responseStarted: false) == 12 * Self.s)
    }

    @Test func requestTimeoutRunsFromTheEndOfTheRequestToTheLastResponseByte() {
        var t = ExchangeTimer()
        t.start(request: 10 * Self.s, bodyIdle: 4 * Self.s)
        // The request completes at 100 s: the response must be over by 110 s.
        #expect(t.deadline(now: 100 * Self.s, requestDone: true, responseStarted: false) == 110 * Self.s)
        // The head at 103 s: body idle applies too, never past 110 s.
        #expect(t.deadline(now: 103 * Self.s, requestDone: true, responseStarted: true) == 107 * Self.s)
        #expect(t.deadline(now: 106 * Self.s, requestDone: true, responseStarted: true) == 110 * Self.s)
        // A backend streaming steadily is still cut at 110 s (a stalled gRPC stream after its headers too).
        #expect(t.deadline(now: 109 * Self.s, requestDone: true, responseStarted: true) == 110 * Self.s)
        #expect(ExchangeTimer.expiry(requestDone: true, responseStarted: true) == .upstreamTimedOut)
        #expect(ExchangeTimer.expiry(requestDone: true, responseStarted: false) == .upstreamTimedOut)
    }

    @Test func aBackendAnsweringBeforeTheBodyEndsStartsTheRequestTimeout() {
        var t = ExchangeTimer()
        t.start(request: 10 * Self.s, bodyIdle: 4 * Self.s)
        _ = t.deadline(now: 100 * Self.s, requestDone: false, responseStarted: false)
        #expect(t.deadline(now: 101 * Self.s, requestDone: false, responseStarted: true) == 105 * Self.s)
        #expect(t.deadline(now: 110 * Self.s, requestDone: true, responseStarted: true) == 111 * Self.s)
        #expect(ExchangeTimer.expiry(requestDone: false, responseStarted: true) == .upstreamTimedOut)
        // A new exchange starts afresh.
        t.start(request: 10 * Self.s, bodyIdle: 4 * Self.s)
        #expect(t.deadline(now: 200 * Self.s, requestDone: true, responseStarted: false) == 210 * Self.s)
    }
}
