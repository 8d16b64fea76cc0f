/// Exponential back-off between delivery attempts: `base × 2^(k-1)` after the k-th failed
/// attempt, never more than `cap`.
public enum RetryBackoff {
    /// The longest wait between two attempts: 30 s.
    public static let defaultCapNanos: UInt64 = 30_000_000_000

    /// The wait after `attempt` (1-based) failed attempts.
    public static func delayNanos(afterAttempt attempt: Int, baseNanos: UInt64, capNanos: UInt64 = defaultCapNanos) -> UInt64 {
        let shift = max(0, attempt - 1)
        guard shift < 63, baseNanos <= (UInt64.max >> UInt64(shift)) else { return capNanos }
        return min(capNanos, baseNanos << UInt64(shift))
    }
}
