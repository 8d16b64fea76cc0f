/// The active-check state of one endpoint: healthy or not, plus the current streak of failed
/// or passed probes. A pure value; `EndpointHealth` stores it packed in one atomic word.
///
/// Rules (`record`): an endpoint starts healthy with empty streaks. A failed probe resets the
/// pass streak and extends the failure streak; a passed probe does the opposite. A healthy
/// endpoint becomes unhealthy when the failure streak reaches `unhealthyAfter`; an unhealthy
/// one becomes healthy when the pass streak reaches `healthyAfter`.
public struct EndpointHealthState: Sendable, Hashable {
    /// Whether traffic may go to the endpoint (as far as active checks know).
    public var healthy: Bool
    /// Consecutive failed probes (0 after a pass).
    public var consecutiveFailures: Int
    /// Consecutive passed probes (0 after a failure).
    public var consecutivePasses: Int

    /// A state; the default is the starting one (healthy, no streaks).
    public init(healthy: Bool = true, consecutiveFailures: Int = 0, consecutivePasses: Int = 0) {
        self.healthy = healthy
        self.consecutiveFailures = consecutiveFailures
        self.consecutivePasses = consecutivePasses
    }

    /// A change of `healthy` caused by one probe.
    public enum Transition: Sendable, Equatable {
        /// The endpoint just became unhealthy.
        case becameUnhealthy
        /// The endpoint just became healthy again.
        case becameHealthy
    }

    /// Counts one probe result; returns the transition it caused, if any.
    @discardableResult
    public mutating func record(passed: Bool, unhealthyAfter: Int, healthyAfter: Int) -> Transition? {
        if passed {
            consecutiveFailures = 0
            consecutivePasses = min(consecutivePasses + 1, Self.streakLimit)
            if !healthy && consecutivePasses >= max(1, healthyAfter) {
                healthy = true
                return .becameHealthy
            }
        } else {
            consecutivePasses = 0
            consecutiveFailures = min(consecutiveFailures + 1, Self.streakLimit)
            if healthy && consecutiveFailures >= max(1, unhealthyAfter) {
                healthy = false
                return .becameUnhealthy
            }
        }
        return nil
    }

    /// Streaks saturate here so they fit their 24-bit fields in the packed word.
    static let streakLimit = 0xFF_FFFF

    /// Packed form: bit 0 set = unhealthy (so the zero word is the starting state),
    /// bits 8–31 failure streak, bits 32–55 pass streak.
    var word: UInt64 {
        (healthy ? 0 : 1) | UInt64(consecutiveFailures) << 8 | UInt64(consecutivePasses) << 32
    }

    /// Unpacks `word`.
    init(word: UInt64) {
        healthy = word & 1 == 0
        consecutiveFailures = Int((word >> 8) & 0xFF_FFFF)
        consecutivePasses = Int((word >> 32) & 0xFF_FFFF)
    }
}
