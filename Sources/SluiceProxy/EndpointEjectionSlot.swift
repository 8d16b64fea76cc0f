import Synchronization

/// One worker's passive-ejection view of one endpoint, mirrored for `/stats`.
///
/// Written only by its worker (relaxed stores, after its private `OutlierDetector` changed),
/// read by the admin thread. The worker never reads it back on the request path.
public final class EndpointEjectionSlot: Sendable {
    /// Monotonic nanoseconds until which this worker ejects the endpoint (0: never ejected).
    let ejectedUntil = Atomic<UInt64>(0)
    /// This worker's current streak of connect failures / 5xx responses from the endpoint.
    let consecutiveFailures = Atomic<Int>(0)

    init() {}

    /// Copies the detector's entry (worker thread only).
    func mirror(_ entry: OutlierDetector.Entry) {
        ejectedUntil.store(entry.ejectedUntil, ordering: .relaxed)
        consecutiveFailures.store(entry.consecutiveFailures, ordering: .relaxed)
    }
}
