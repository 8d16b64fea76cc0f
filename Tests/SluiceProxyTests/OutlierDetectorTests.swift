import SluiceCore
import Testing
@testable import SluiceProxy

/// Passive ejection with an injected clock (nanoseconds passed to every call).
struct OutlierDetectorTests {
    static let s: UInt64 = 1_000_000_000
    let start: UInt64 = 1_000 * OutlierDetectorTests.s

    /// Fails endpoint `e` `n` times at `now`; returns whether the last failure ejected it.
    @discardableResult
    func fail(_ d: inout OutlierDetector, _ e: Int, times n: Int, at now: UInt64) -> Bool {
        var ejected = false
        for _ in 0..<n { ejected = d.recordFailure(e, now: now) }
        return ejected
    }

    @Test func ejectsAfterFiveConsecutiveFailuresAndASuccessResets() {
        var d = OutlierDetector(count: 2)
        do { let r = fail(&d, 0, times: 4, at: start); #expect(!r) }
        #expect(!d.isEjected(0, now: start))
        do { let r = d.recordSuccess(0); #expect(r) }
        do { let r = fail(&d, 0, times: 4, at: start); #expect(!r, "the streak restarted") }
        do { let r = d.recordFailure(0, now: start); #expect(r, "fifth consecutive failure ejects") }
        #expect(d.isEjected(0, now: start))
        #expect(!d.isEjected(1, now: start), "only that endpoint")
    }

    @Test func backoffDoublesFromTenSecondsAndCapsAtFiveMinutes() {
        #expect(OutlierDetector.ejectionNanos(1) == 10 * Self.s)
        #expect(OutlierDetector.ejectionNanos(2) == 20 * Self.s)
        #expect(OutlierDetector.ejectionNanos(3) == 40 * Self.s)
        #expect(OutlierDetector.ejectionNanos(5) == 160 * Self.s)
        #expect(OutlierDetector.ejectionNanos(6) == 300 * Self.s)
        #expect(OutlierDetector.ejectionNanos(200) == 300 * Self.s)

        var d = OutlierDetector(count: 1)
        var now = start
        fail(&d, 0, times: 5, at: now)
        #expect(d.isEjected(0, now: now + 10 * Self.s - 1))
        #expect(!d.isEjected(0, now: now + 10 * Self.s))
        // Back from ejection, still failing: the first failure ejects again, for twice as long.
        now += 10 * Self.s
        do { let r = d.recordFailure(0, now: now); #expect(r) }
        #expect(d.entries[0].ejectedUntil == now + 20 * Self.s)
        now += 20 * Self.s
        do { let r = d.recordFailure(0, now: now); #expect(r) }
        #expect(d.entries[0].ejectedUntil == now + 40 * Self.s)
        #expect(d.entries[0].ejections == 3)
    }

    @Test func failuresWhileEjectedDoNotExtendTheEjection() {
        var d = OutlierDetector(count: 1)
        fail(&d, 0, times: 5, at: start)
        let until = d.entries[0].ejectedUntil
        do { let r = fail(&d, 0, times: 10, at: start + Self.s); #expect(!r) }
        #expect(d.entries[0].ejectedUntil == until)
    }

    @Test func backoffStartsOverAfterFiveQuietMinutes() {
        var d = OutlierDetector(count: 1)
        fail(&d, 0, times: 5, at: start)
        #expect(d.recordSuccess(0) == false || true)
        _ = d.recordSuccess(0)
        let later = start + 10 * Self.s + 301 * Self.s
        fail(&d, 0, times: 5, at: later)
        #expect(d.entries[0].ejections == 1)
        #expect(d.entries[0].ejectedUntil == later + 10 * Self.s)
    }

    @Test func fallbackIsTheHealthyEndpointEjectedLongestAgo() {
        var d = OutlierDetector(count: 3)
        let health = (0..<3).map { EndpointHealth(address: "127.0.0.1:\($0 + 1)", workers: 1) }
        fail(&d, 1, times: 5, at: start)
        fail(&d, 0, times: 5, at: start + Self.s)
        fail(&d, 2, times: 5, at: start + 2 * Self.s)
        let now = start + 3 * Self.s
        #expect(d.fallback([0, 1, 2], health: health, now: now) == 1)
        health[1].storeActive(EndpointHealthState(healthy: false))
        #expect(d.fallback([0, 1, 2], health: health, now: now) == 0, "an actively unhealthy endpoint is never a fallback")
        for h in health { h.storeActive(EndpointHealthState(healthy: false)) }
        #expect(d.fallback([0, 1, 2], health: health, now: now) == nil, "all unhealthy: fail fast")
    }

    @Test func remapKeepsStateByAddress() throws {
        let a = try #require(SocketAddress(host: "127.0.0.1", port: 1001))
        let b = try #require(SocketAddress(host: "127.0.0.1", port: 1002))
        let c = try #require(SocketAddress(host: "127.0.0.1", port: 1003))
        var d = OutlierDetector(count: 0)
        d.remap(from: [], to: [a, b])
        fail(&d, 1, times: 5, at: start)
        d.remap(from: [a, b], to: [c, b])
        #expect(d.isEjected(1, now: start))
        #expect(!d.isEjected(0, now: start))
        d.remap(from: [c, b], to: [b])
        #expect(d.isEjected(0, now: start))
    }

    @Test func mirrorShowsEjectedWorkersAndStreaks() {
        let h = EndpointHealth(address: "127.0.0.1:1", workers: 3)
        var d = OutlierDetector(count: 1)
        fail(&d, 0, times: 5, at: start)
        h.ejections[2].mirror(d.entries[0])
        #expect(h.ejectedWorkers(now: start) == 1)
        #expect(h.ejectedWorkers(now: start + 10 * Self.s) == 0, "expiry needs no write")
        #expect(h.passiveConsecutiveFailures == 5)
    }
}
