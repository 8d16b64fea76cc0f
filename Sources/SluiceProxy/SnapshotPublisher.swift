import Synchronization

/// Hands the current `ProxySnapshot` from the control thread to the workers.
/// Workers load `generation` (one relaxed-acquire atomic load per request) and take the
/// mutex only when it changed, so the request path takes no lock in steady state.
public final class SnapshotPublisher: Sendable {
    /// Generation of the snapshot in `current`; written after `current` is replaced.
    private let published: Atomic<UInt64>
    /// The snapshot itself; written by the control thread, read by workers on change.
    private let current: Mutex<ProxySnapshot>

    /// Starts with `initial`.
    public init(_ initial: ProxySnapshot) {
        published = Atomic(initial.generation)
        current = Mutex(initial)
    }

    /// The latest generation (cheap; the request path calls this).
    @inline(__always)
    public var generation: UInt64 { published.load(ordering: .acquiring) }

    /// The latest snapshot (takes the lock; call when `generation` changed).
    public func load() -> ProxySnapshot { current.withLock { $0 } }

    /// Publishes `snapshot`; workers see it at their next request.
    public func publish(_ snapshot: ProxySnapshot) {
        current.withLock { $0 = snapshot }
        published.store(snapshot.generation, ordering: .releasing)
    }
}
