/// A replica's place in the fleet, as ``FleetMember`` sees it.
public enum FleetRole: String, Sendable, Hashable {
    /// etcd could not be reached: keep the last applied state, take no step, local rollback rules act.
    case disconnected
    /// etcd answers but this replica holds no lease yet (just started, or its lease expired).
    case joining
    /// Holds a lease; another replica leads (or nobody yet).
    case member
    /// Holds a lease and the leader key created with it.
    case leader
}

/// What the agent must do next for ``FleetMember``.
public enum FleetMemberAction: Sendable, Hashable {
    /// Grant a lease of this many seconds.
    case grantLease(ttlSeconds: Int)
    /// Renew the lease.
    case renewLease(Int64)
    /// Try to create the leader key bound to the lease (in a transaction: only if it does not exist).
    case campaign(lease: Int64)
    /// Nothing due now.
    case wait
}

/// The membership and leadership lifecycle of one replica: a value type fed with the results of etcd calls
/// and the watch, returning what to do next. No I/O; `now` is monotonic nanoseconds from the caller.
///
/// - A lease is granted, then renewed every `lease_ttl / 3`. The lease is taken for lost at
///   `time of the last successful grant or renewal request + lease_ttl` (the server counts from when it
///   received the request, later than when it was sent, so this errs towards losing it early), or when etcd
///   says it is gone.
/// - With a lease, the replica campaigns when the leader key is absent (watch: deleted), after (re)connecting,
///   and every `lease_ttl` as a safety net. A campaign's result names the leader: this replica (with the
///   key's create revision, used to fence every leader write) or another one.
/// - ``isLeader(now:)`` is false as soon as the lease may have expired, even before etcd says so: a leader
///   that stops hearing from etcd stops acting as one. etcd fences its writes anyway (the transaction
///   compares the leader key's create revision).
/// - Any failed call makes it `disconnected`; it retries after `retryNanos`.
public struct FleetMember: Sendable, Equatable {
    /// This replica's instance name.
    public let instance: String
    /// Lease time to live, nanoseconds (whole seconds).
    public let ttlNanos: UInt64
    /// Pause after a failed call before the next one.
    public let retryNanos: UInt64
    /// Current role.
    public private(set) var role: FleetRole = .disconnected
    /// The lease held, if any.
    public private(set) var lease: Int64?
    /// When the lease must be taken for expired.
    public private(set) var leaseExpiresAt: UInt64 = 0
    /// When the next renewal is due.
    public private(set) var nextRenewAt: UInt64 = 0
    /// No call before this time (after a failure).
    public private(set) var retryAt: UInt64 = 0
    /// When the next safety-net campaign is due.
    public private(set) var nextCampaignAt: UInt64 = 0
    /// Whether a campaign is due now (leader key absent or unknown).
    public private(set) var campaignDue = true
    /// The leader's instance name, when known.
    public private(set) var leaderName: String?
    /// Create revision of the leader key this replica won (fencing token), when leading.
    public private(set) var leaderCreateRevision: Int64?

    /// Creates a disconnected member.
    public init(instance: String, ttlNanos: UInt64, retryNanos: UInt64 = 500_000_000) {
        self.instance = instance
        self.ttlNanos = ttlNanos
        self.retryNanos = retryNanos
    }

    /// Whether this replica may act as leader at `now`.
    public func isLeader(now: UInt64) -> Bool {
        role == .leader && lease != nil && now < leaseExpiresAt
    }

    /// Whether etcd answered the last call.
    public var isConnected: Bool { role != .disconnected }

    /// The next thing to do at `now`.
    public mutating func next(now: UInt64) -> FleetMemberAction {
        if now < retryAt { return .wait }
        if lease != nil && now >= leaseExpiresAt { dropLease() }
        guard let lease else { return .grantLease(ttlSeconds: Int(ttlNanos / 1_000_000_000)) }
        if now >= nextRenewAt { return .renewLease(lease) }
        if role != .leader && (campaignDue || now >= nextCampaignAt) { return .campaign(lease: lease) }
        return .wait
    }

    /// A lease was granted for a request sent at `requestedAt`.
    public mutating func leaseGranted(_ id: Int64, requestedAt: UInt64) {
        lease = id
        leaseExpiresAt = requestedAt + ttlNanos
        nextRenewAt = requestedAt + ttlNanos / 3
        role = .member
        leaderCreateRevision = nil
        campaignDue = true
    }

    /// The lease was renewed by a request sent at `requestedAt`.
    public mutating func leaseRenewed(requestedAt: UInt64) {
        leaseExpiresAt = requestedAt + ttlNanos
        nextRenewAt = requestedAt + ttlNanos / 3
        if role == .disconnected { role = .member; campaignDue = true }
    }

    /// etcd says the lease is gone (expired or revoked): leadership, if any, is gone with it.
    public mutating func leaseLost() {
        dropLease()
    }

    /// A call failed (etcd unreachable, timeout): disconnected until a call succeeds.
    public mutating func callFailed(now: UInt64) {
        role = .disconnected
        retryAt = now + retryNanos
        campaignDue = true
    }

    /// A call other than grant/renew succeeded (reconnects a disconnected member that still holds a lease).
    public mutating func callSucceeded() {
        if role == .disconnected { role = lease == nil ? .joining : .member }
    }

    /// A campaign finished at `now`: the leader key names `leader`, created at `createRevision`
    /// (`leaderLease`: the lease it is bound to). This replica leads when the key is its own.
    public mutating func campaignResult(leader: String?, createRevision: Int64?, leaderLease: Int64?, now: UInt64) {
        campaignDue = leader == nil
        nextCampaignAt = now + ttlNanos
        leaderName = leader
        if let leader, leader == instance, let lease, leaderLease == lease, let createRevision {
            role = .leader
            leaderCreateRevision = createRevision
        } else {
            if role == .leader || role == .disconnected { role = self.lease == nil ? .joining : .member }
            leaderCreateRevision = nil
        }
    }

    /// The watch saw the leader key change: deleted (`leader` nil) or written by `leader` at `createRevision`.
    public mutating func leaderKeyChanged(leader: String?, createRevision: Int64?) {
        leaderName = leader
        guard let leader else {
            campaignDue = true
            if role == .leader { role = .member; leaderCreateRevision = nil }
            return
        }
        if role == .leader && (leader != instance || createRevision != leaderCreateRevision) {
            role = .member
            leaderCreateRevision = nil
        }
    }

    private mutating func dropLease() {
        lease = nil
        leaderCreateRevision = nil
        if leaderName == instance { leaderName = nil }
        if role != .disconnected { role = .joining }
        campaignDue = true
    }
}
