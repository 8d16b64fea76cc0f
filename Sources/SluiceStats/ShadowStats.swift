import Synchronization

/// Shadow (mirroring) figures for one route, written lock-free by the workers.
///
/// Results of mirrored exchanges are kept in an internal `TargetStats` with a 60 s window, which provides the
/// status classes, error count, latency histogram and the recent p99. Drops and comparison outcomes are
/// plain per-worker counters.
///
/// `@unchecked Sendable` is sound for the same reasons as `TargetStats`: every shared word is an `Atomic`
/// accessed atomically (relaxed), each worker block has exactly one writer thread (the worker whose index is
/// passed), the block array is immutable after `init`, and readers tolerate slightly stale sums.
public final class ShadowStats: @unchecked Sendable {
    /// Length of the window behind `ShadowSnapshot.p99Ms`, seconds.
    public static let latencyWindowSeconds: Int = 60

    /// Layout of a worker's counter block.
    enum Words {
        static let dropped = 0                                   // one word per ShadowDropReason
        static let compared = ShadowDropReason.allCases.count
        static let agreed = compared + 1
        static let count = agreed + 1
    }

    /// Number of worker slots; valid `worker` arguments are `0 ..< workers`.
    public let workers: Int
    private let results: TargetStats
    private let counters: [AtomicU64Buffer]
    /// Figures of each `shadow.compare` field (list form), in config order.
    public let fields: [FieldStats]

    /// Creates storage for `workers` workers, with figures for each compare field.
    public init(workers: Int, fields: [(pointer: String, kind: FieldStats.Kind)] = []) {
        precondition(workers > 0, "ShadowStats needs at least one worker")
        self.workers = workers
        self.fields = fields.map { FieldStats(pointer: $0.pointer, kind: $0.kind, workers: workers) }
        self.results = TargetStats(workers: workers, windowSeconds: Self.latencyWindowSeconds)
        self.counters = (0..<workers).map { _ in AtomicU64Buffer(count: Words.count) }
    }

    deinit {
        for c in counters { c.deallocate() }
    }

    /// Counts one request that was sent to the shadow upstream.
    @inline(__always)
    public func recordMirrored(worker: Int) {
        results.recordAssignment(worker: worker)
    }

    /// Counts one request selected for mirroring that was not mirrored, by reason.
    @inline(__always)
    public func recordDropped(worker: Int, reason: ShadowDropReason) {
        counters[worker].add(Words.dropped + reason.rawValue, 1)
    }

    /// Records the end of a mirrored exchange (same meaning of arguments as `TargetStats.recordResponse`).
    @inline(__always)
    public func recordResult(worker: Int, nowSecond: UInt64, status: Int, isError: Bool, latencyMicros: UInt64) {
        results.recordResponse(worker: worker, nowSecond: nowSecond, status: status, isError: isError,
                               latencyMicros: latencyMicros)
    }

    /// Records the outcome of comparing the shadow response with the primary one.
    @inline(__always)
    public func recordComparison(worker: Int, agreed: Bool) {
        let c = counters[worker]
        c.add(Words.compared, 1)
        if agreed { c.add(Words.agreed, 1) }
    }

    /// Merged view of all workers; the latency window ends at `nowSecond` and spans 60 s.
    public func snapshot(nowSecond: UInt64) -> ShadowSnapshot {
        var words = [UInt64](repeating: 0, count: Words.count)
        for c in counters {
            for w in 0..<Words.count { words[w] &+= c.load(w) }
        }
        var byReason: [ShadowDropReason: UInt64] = [:]
        for reason in ShadowDropReason.allCases { byReason[reason] = words[Words.dropped + reason.rawValue] }
        return ShadowSnapshot(
            droppedByReason: byReason,
            compared: words[Words.compared],
            agreed: words[Words.agreed],
            results: results.snapshot(nowSecond: nowSecond, windowSeconds: Self.latencyWindowSeconds))
    }
}
