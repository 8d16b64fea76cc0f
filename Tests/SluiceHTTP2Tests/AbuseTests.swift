import Testing
import SluiceCore
@testable import SluiceHTTP2

@Suite struct AbuseTests {
    /// CVE-2023-44487: the client opens and immediately cancels streams. nghttp2's limiter
    /// (burst 1000, 33/s) answers with GOAWAY — with INTERNAL_ERROR, as upstream 1.57 does,
    /// not ENHANCE_YOUR_CALM — and the session refuses further input once that went out.
    @Test func rapidResetFloodEndsConnection() {
        let pair = Pair()
        #expect(pair.server.hasRapidResetLimiter)
        pair.pump()
        var opened = 0
        for _ in 0..<2000 {
            let id = pair.client.submitRequest(headers: getRequest(), endStream: true)
            if id < 0 { break }  // the client saw the GOAWAY
            opened += 1
            pair.clientToServer()  // HEADERS go out first, so the reset is a real RST_STREAM
            pair.client.resetStream(id, errorCode: H2ErrorCode.cancel)
            pair.clientToServer()
            pair.serverToClient()
            if pair.serverReceiveFailed { break }
        }
        #expect(opened > 900 && opened < 2000)
        let goaway = frames(pair.serverBytes).first { $0.type == 7 }
        #expect(goaway != nil)
        #expect(goaway?.errorCode != H2ErrorCode.noError)
        #expect(pair.clientHandler.goAway != nil)
        // More input (a PING) is refused: the proxy flushes and closes.
        let ping: [UInt8] = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        #expect(!ping.withUnsafeBytes { pair.server.receive($0) })
        #expect(!pair.server.wantsRead)
    }

    /// MadeYouReset (CVE-2025-8671): the peer makes *us* reset streams. More than 250 local
    /// resets in one window (≤ 1 s, ≤ 500 closed streams) end the connection.
    @Test func localResetFloodEndsConnection() {
        let pair = Pair()
        pair.serverHandler.onHead = { [unowned pair] id, _ in
            pair.server.resetStream(id, errorCode: H2ErrorCode.protocolError)
        }
        pair.pump()
        var opened = 0
        for _ in 0..<40 {
            for _ in 0..<20 {
                if pair.client.submitRequest(headers: getRequest(), endStream: true) > 0 { opened += 1 }
            }
            pair.pump()
            if pair.serverReceiveFailed || pair.clientHandler.goAway != nil { break }
        }
        let resets = frames(pair.serverBytes).filter { $0.type == 3 }.count
        #expect(resets == H2ResetGuard.maxResets + 1)
        let goaway = frames(pair.serverBytes).first { $0.type == 7 }
        #expect(goaway?.errorCode == H2ErrorCode.enhanceYourCalm)
        #expect(pair.serverHandler.limits.contains("local_reset_flood"))
        #expect(!pair.server.receive(UnsafeRawBufferPointer(start: nil, count: 0)) || !pair.server.wantsRead)
    }

    /// A few resets on a healthy connection do not trip the guard.
    @Test func resetGuardRule() {
        var guardState = H2ResetGuard()
        let t0: UInt64 = 1_000
        // 500 streams close, 250 of them reset by us: exactly half, not more — no trip.
        for i in 0..<500 {
            if i % 2 == 0 {
                let trip = guardState.localReset(now: t0)
                #expect(!trip)
            }
            guardState.streamClosed(now: t0)
        }
        // A new window: 251 resets inside 1 s trip it.
        var tripped = false
        for _ in 0..<251 { tripped = guardState.localReset(now: t0 + 10) }
        #expect(tripped)
        // Resets spread over time (a window per second) never trip.
        var slow = H2ResetGuard()
        for s in 0..<10 {
            for _ in 0..<200 {
                let trip = slow.localReset(now: UInt64(s) * 1_100_000_000)
                #expect(!trip)
            }
        }
    }
}
