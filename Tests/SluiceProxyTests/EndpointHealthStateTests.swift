import Testing
@testable import SluiceProxy

/// The active-check state machine: thresholds, streaks, the packed word.
struct EndpointHealthStateTests {
    @Test func startsHealthyAndNeedsUnhealthyAfterConsecutiveFailures() {
        var s = EndpointHealthState()
        #expect(s.healthy)
        do { let r = s.record(passed: false, unhealthyAfter: 3, healthyAfter: 2); #expect(r == nil) }
        do { let r = s.record(passed: false, unhealthyAfter: 3, healthyAfter: 2); #expect(r == nil) }
        #expect(s.healthy, "two failures of three do not flip it")
        do { let r = s.record(passed: false, unhealthyAfter: 3, healthyAfter: 2); #expect(r == .becameUnhealthy) }
        #expect(!s.healthy)
        #expect(s.consecutiveFailures == 3)
        do { let r = s.record(passed: false, unhealthyAfter: 3, healthyAfter: 2); #expect(r == nil, "no second transition") }
    }

    @Test func aPassInterruptsTheFailureStreak() {
        var s = EndpointHealthState()
        s.record(passed: false, unhealthyAfter: 2, healthyAfter: 2)
        s.record(passed: true, unhealthyAfter: 2, healthyAfter: 2)
        #expect(s.consecutiveFailures == 0)
        do { let r = s.record(passed: false, unhealthyAfter: 2, healthyAfter: 2); #expect(r == nil) }
        #expect(s.healthy)
        do { let r = s.record(passed: false, unhealthyAfter: 2, healthyAfter: 2); #expect(r == .becameUnhealthy) }
    }

    @Test func recoversAfterHealthyAfterConsecutivePasses() {
        var s = EndpointHealthState()
        s.record(passed: false, unhealthyAfter: 1, healthyAfter: 3)
        #expect(!s.healthy)
        do { let r = s.record(passed: true, unhealthyAfter: 1, healthyAfter: 3); #expect(r == nil) }
        do { let r = s.record(passed: true, unhealthyAfter: 1, healthyAfter: 3); #expect(r == nil) }
        s.record(passed: false, unhealthyAfter: 1, healthyAfter: 3)
        #expect(s.consecutivePasses == 0, "a failure restarts the pass streak")
        for _ in 0..<2 { do { let r = s.record(passed: true, unhealthyAfter: 1, healthyAfter: 3); #expect(r == nil) } }
        do { let r = s.record(passed: true, unhealthyAfter: 1, healthyAfter: 3); #expect(r == .becameHealthy) }
        #expect(s.healthy)
    }

    @Test func packedWordRoundTripsAndZeroIsTheStartingState() {
        #expect(EndpointHealthState(word: 0) == EndpointHealthState())
        let s = EndpointHealthState(healthy: false, consecutiveFailures: 7, consecutivePasses: 0)
        #expect(EndpointHealthState(word: s.word) == s)
        let t = EndpointHealthState(healthy: true, consecutiveFailures: 0, consecutivePasses: 12345)
        #expect(EndpointHealthState(word: t.word) == t)
    }

    @Test func sharedObjectPublishesTheCheckerVerdict() {
        let h = EndpointHealth(address: "127.0.0.1:1", workers: 2)
        #expect(h.isHealthy)
        h.storeActive(EndpointHealthState(healthy: false, consecutiveFailures: 2))
        #expect(!h.isHealthy)
        #expect(h.activeState.consecutiveFailures == 2)
    }
}
