/// How long a listener stops accepting after `accept` failed for other than a per-connection
/// reason (EMFILE, ENFILE, ENOBUFS, ENOMEM: out of descriptors or memory): 10 ms after the first failure, doubling with each failed retry up to
/// 1 s, back to 10 ms after an accept succeeds. The listener's level-triggered readiness would
/// otherwise report the pending connection again on every loop iteration and spin a core while
/// descriptors stay exhausted.
///
/// The retry runs from the event loop's deadline sweep, which runs every 50 ms, so the shortest
/// pauses are rounded up to that in practice.
struct AcceptBackoff {
    /// First pause (ns).
    static let initialNanos: UInt64 = 10_000_000
    /// Longest pause (ns).
    static let maximumNanos: UInt64 = 1_000_000_000

    /// The pause the next failure starts.
    private(set) var nextNanos = AcceptBackoff.initialNanos

    /// The pause to take now; doubles the one after it.
    mutating func failed() -> UInt64 {
        let pause = nextNanos
        nextNanos = min(nextNanos * 2, AcceptBackoff.maximumNanos)
        return pause
    }

    /// An accept succeeded: the next failure starts from the first pause again.
    mutating func succeeded() { nextNanos = AcceptBackoff.initialNanos }
}
