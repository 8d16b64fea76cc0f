import Synchronization

/// The last fleet generation seen and its key's mod revision: what a ``FleetWriter``'s compare-and-swap
/// expects the generation key to be.
///
/// One per agent, shared by its writer (agent thread) and the operator committer's (admin threads), and fed by
/// everything that reads the generation key: the resync, the watch thread, every commit and every failed
/// compare. A writer whose value is stale loses one transaction (the compare fails, it reads the key and
/// retries), so keeping it current makes an operator change one transaction.
public final class FleetGeneration: Sendable {
    /// (generation, mod revision of the generation key); (0, 0) before the key exists.
    private let latest = Mutex<(value: UInt64, revision: Int64)>((0, 0))

    /// Starts with nothing seen.
    public init() {}

    /// The latest generation seen and its key's mod revision.
    public var current: (value: UInt64, revision: Int64) { latest.withLock { $0 } }

    /// Records generation `value` written at `revision`, unless a later revision was seen already.
    public func observe(_ value: UInt64, revision: Int64) {
        latest.withLock { if revision > $0.revision { $0 = (value, revision) } }
    }

    /// Records the generation key as a failed compare read it (`(0, 0)` when absent): etcd's answer replaces
    /// whatever was cached, even a later revision, so a store whose history was reset is followed too.
    public func replace(_ value: UInt64, revision: Int64) {
        latest.withLock { $0 = (value, revision) }
    }
}
