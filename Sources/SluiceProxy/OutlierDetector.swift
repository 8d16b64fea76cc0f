import SluiceCore

/// Passive outlier ejection of one worker: endpoints that keep failing real requests are
/// taken out of this worker's rotation for a while. Private to its worker (no shared state;
/// `EndpointEjectionSlot` only mirrors it for `/stats`). Time is passed in, so tests drive it
/// with a fake clock.
///
/// Rules:
/// - A connect failure or a 5xx response from an endpoint extends its failure streak; any other
///   response resets the streak to 0.
/// - When the streak reaches `consecutiveFailuresToEject` (5) and the endpoint is not ejected,
///   it is ejected for `baseEjectionNanos × 2^(n−1)` (10 s, 20 s, 40 s …), capped at
///   `maxEjectionNanos` (5 min), where n counts its ejections. The streak is not cleared when
///   the ejection ends: the first request after it that fails again ejects it again at once.
/// - `n` starts over when an endpoint is ejected again more than `maxEjectionNanos` after its
///   previous ejection ended.
struct OutlierDetector {
    /// Consecutive connect failures / 5xx responses that eject an endpoint.
    static let consecutiveFailuresToEject = 5
    /// Length of a first ejection: 10 s.
    static let baseEjectionNanos: UInt64 = 10_000_000_000
    /// Longest ejection, and the quiet time after which the backoff starts over: 5 min.
    static let maxEjectionNanos: UInt64 = 300_000_000_000

    /// What the detector knows about one endpoint.
    struct Entry: Equatable {
        /// Current streak of failures (connect failure or 5xx).
        var consecutiveFailures = 0
        /// Ejections so far (the backoff exponent).
        var ejections = 0
        /// When the current (or last) ejection began.
        var ejectedAt: UInt64 = 0
        /// When it ends; the endpoint is ejected while `now < ejectedUntil`.
        var ejectedUntil: UInt64 = 0
    }

    /// One entry per endpoint, indexed like the worker's snapshot's `endpoints`.
    private(set) var entries: [Entry]

    /// A detector for `count` endpoints, none ejected.
    init(count: Int) {
        entries = Array(repeating: Entry(), count: count)
    }

    /// Whether endpoint `e` is ejected at `now`.
    @inline(__always)
    func isEjected(_ e: Int, now: UInt64) -> Bool {
        entries[e].ejectedUntil > now
    }

    /// Length of the `n`-th ejection (n ≥ 1).
    static func ejectionNanos(_ n: Int) -> UInt64 {
        let shift = min(max(n, 1) - 1, 31)
        let (d, overflow) = baseEjectionNanos.multipliedReportingOverflow(by: UInt64(1) << UInt64(shift))
        return overflow ? maxEjectionNanos : min(d, maxEjectionNanos)
    }

    /// Counts a connect failure or 5xx of endpoint `e`; true when it ejected the endpoint.
    mutating func recordFailure(_ e: Int, now: UInt64) -> Bool {
        var entry = entries[e]
        entry.consecutiveFailures += 1
        var ejected = false
        if entry.consecutiveFailures >= Self.consecutiveFailuresToEject && entry.ejectedUntil <= now {
            if entry.ejections > 0 && now &- entry.ejectedUntil > Self.maxEjectionNanos { entry.ejections = 0 }
            entry.ejections += 1
            entry.ejectedAt = now
            entry.ejectedUntil = now + Self.ejectionNanos(entry.ejections)
            ejected = true
        }
        entries[e] = entry
        return ejected
    }

    /// Counts a non-5xx response of endpoint `e`; true when it cleared a failure streak.
    @inline(__always)
    mutating func recordSuccess(_ e: Int) -> Bool {
        if entries[e].consecutiveFailures == 0 { return false }
        entries[e].consecutiveFailures = 0
        return true
    }

    /// When every endpoint in `candidates` is out: among those that are actively healthy but
    /// ejected, the one ejected longest ago (passive ejection never empties a backend).
    /// nil when none is actively healthy (then the request fails fast).
    func fallback(_ candidates: [Int], health: [EndpointHealth], now: UInt64) -> Int? {
        var best: Int?
        var bestAt = UInt64.max
        for e in candidates where health[e].isHealthy && entries[e].ejectedAt < bestAt {
            best = e
            bestAt = entries[e].ejectedAt
        }
        return best
    }

    /// Carries entries over to a new endpoint list (after a reload), matching by address.
    mutating func remap(from old: [SocketAddress], to new: [SocketAddress]) {
        var byAddress: [SocketAddress: Entry] = [:]
        for (i, a) in old.enumerated() where i < entries.count { byAddress[a] = entries[i] }
        entries = new.map { byAddress[$0] ?? Entry() }
    }
}
