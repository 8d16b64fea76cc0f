import Synchronization

/// Shared health of one endpoint (`host:port`), kept across config reloads by
/// `EndpointHealthRegistry` and reached through `ProxySnapshot.endpointHealth`.
///
/// - The active-check state is one atomic word: the health-checker thread is its only writer,
///   workers read it with one relaxed load per candidate endpoint (`isHealthy`).
/// - `ejections[w]` mirrors worker `w`'s passive ejection of the endpoint, for `/stats` only.
public final class EndpointHealth: Sendable {
    /// `host:port` (IPv6 hosts in brackets).
    public let address: String
    /// Packed `EndpointHealthState`; 0 = healthy with empty streaks.
    private let word = Atomic<UInt64>(0)
    /// One slot per worker.
    let ejections: [EndpointEjectionSlot]

    /// A healthy endpoint seen by `workers` workers.
    public init(address: String, workers: Int) {
        self.address = address
        ejections = (0..<max(1, workers)).map { _ in EndpointEjectionSlot() }
    }

    /// Whether active checks allow traffic to the endpoint. One relaxed atomic load.
    @inline(__always)
    public var isHealthy: Bool { word.load(ordering: .relaxed) & 1 == 0 }

    /// The full active-check state.
    public var activeState: EndpointHealthState { EndpointHealthState(word: word.load(ordering: .relaxed)) }

    /// Replaces the active-check state (health-checker thread only).
    func storeActive(_ state: EndpointHealthState) {
        word.store(state.word, ordering: .relaxed)
    }

    /// Workers that eject the endpoint at monotonic time `now`.
    public func ejectedWorkers(now: UInt64) -> Int {
        ejections.reduce(0) { $0 + ($1.ejectedUntil.load(ordering: .relaxed) > now ? 1 : 0) }
    }

    /// The longest passive failure streak any worker currently sees.
    public var passiveConsecutiveFailures: Int {
        ejections.reduce(0) { max($0, $1.consecutiveFailures.load(ordering: .relaxed)) }
    }
}
