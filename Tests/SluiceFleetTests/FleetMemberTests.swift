import SluiceFleet
import Testing

/// The membership and leadership lifecycle, in memory with an injected clock.
struct FleetMemberTests {
    let s: UInt64 = 1_000_000_000

    @Test func grantsRenewsAndCampaigns() {
        var m = FleetMember(instance: "a", ttlNanos: 6 * s)
        #expect(m.next(now: 0) == .grantLease(ttlSeconds: 6))
        m.leaseGranted(7, requestedAt: 0)
        #expect(m.role == .member)
        #expect(m.next(now: 1) == .campaign(lease: 7))
        m.campaignResult(leader: "a", createRevision: 42, leaderLease: 7, now: 1)
        #expect(m.role == .leader)
        #expect(m.leaderCreateRevision == 42)
        #expect(m.isLeader(now: 2 * s))
        #expect(m.next(now: 2 * s - 1) == .wait)
        #expect(m.next(now: 2 * s) == .renewLease(7))
        m.leaseRenewed(requestedAt: 2 * s + 1)
        #expect(m.isLeader(now: 8 * s))
    }

    @Test func leaderThatStopsRenewingStopsLeadingBeforeEtcdSaysSo() {
        var m = FleetMember(instance: "a", ttlNanos: 5 * s)
        m.leaseGranted(1, requestedAt: 0)
        m.campaignResult(leader: "a", createRevision: 10, leaderLease: 1, now: 0)
        m.callFailed(now: 2 * s)
        #expect(!m.isLeader(now: 2 * s))
        #expect(m.role == .disconnected)
        // Past the lease's time to live the lease is taken for lost: grant a new one.
        #expect(m.next(now: 6 * s) == .grantLease(ttlSeconds: 5))
        #expect(m.lease == nil)
        #expect(m.leaderCreateRevision == nil)
    }

    @Test func losesTheElectionAndCampaignsWhenTheLeaderKeyGoes() {
        var m = FleetMember(instance: "b", ttlNanos: 5 * s)
        m.leaseGranted(2, requestedAt: 0)
        m.campaignResult(leader: "a", createRevision: 10, leaderLease: 1, now: 0)
        #expect(m.role == .member)
        #expect(m.leaderName == "a")
        #expect(m.next(now: s) == .wait)
        m.leaderKeyChanged(leader: nil, createRevision: nil)
        #expect(m.next(now: s) == .campaign(lease: 2))
        m.campaignResult(leader: "b", createRevision: 20, leaderLease: 2, now: s)
        #expect(m.isLeader(now: s))
    }

    @Test func deposedWhenTheLeaderKeyIsRecreated() {
        var m = FleetMember(instance: "a", ttlNanos: 5 * s)
        m.leaseGranted(1, requestedAt: 0)
        m.campaignResult(leader: "a", createRevision: 10, leaderLease: 1, now: 0)
        m.leaderKeyChanged(leader: "c", createRevision: 30)
        #expect(m.role == .member)
        #expect(!m.isLeader(now: 1))
    }

    @Test func aKeyWithTheSameNameButAnotherLeaseIsNotOurs() {
        // A restarted replica with the same instance name must not take over the old process's key.
        var m = FleetMember(instance: "a", ttlNanos: 5 * s)
        m.leaseGranted(2, requestedAt: 0)
        m.campaignResult(leader: "a", createRevision: 10, leaderLease: 1, now: 0)
        #expect(m.role == .member)
    }

    @Test func expiredLeaseStartsOver() {
        var m = FleetMember(instance: "a", ttlNanos: 5 * s)
        m.leaseGranted(1, requestedAt: 0)
        m.leaseLost()
        #expect(m.role == .joining)
        #expect(m.next(now: 1) == .grantLease(ttlSeconds: 5))
    }
}
