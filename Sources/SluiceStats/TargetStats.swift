import Synchronization

/// Statistics of one (route, target) pair: one object per pair, shared by all workers.
///
/// Hot-path writes (`recordAssignment`, `recordResponse`) take no lock and never allocate; worker `i` writes
/// only its own storage block. Readers (`snapshot`, `windowSnapshot`) merge all workers and may allocate.
///
/// Besides all-time counters and an all-time latency histogram (for Prometheus), each worker keeps a ring of
/// `windowCapacitySeconds + 1` per-second buckets, each with a second tag, response and error counts and its own
/// latency histogram. Memory per worker is roughly `(capacity + 1) * 5.6 KiB + 11 KiB`, so a 60 s window costs
/// ~350 KiB per worker and target, the 600 s cap ~3.4 MiB.
///
/// Sliding-window protocol: when a worker records into a bucket whose tag is not the current second, it first
/// zeroes the bucket, then publishes the new tag with a releasing store. A reader acquires the tag, sums the
/// bucket only if the tag lies in `(now - window, now]`, and re-reads the tag afterwards, discarding the bucket
/// if it changed meanwhile. A bucket is only recycled once its old second has left every window ending at or
/// after the writer's current second, so the remaining race (a reader whose clock lags the writer's) can at
/// worst undercount a bucket being recycled; that is acceptable for monitoring and rollback decisions.
///
/// `@unchecked Sendable` is sound because: every word shared between threads is an `Atomic` accessed through
/// atomic operations (relaxed, plus release/acquire for the bucket tag); each worker block has exactly one
/// writer thread (the worker whose index it is), so single-writer load+store increments are never lost; the
/// block array itself is immutable after `init`; and readers tolerate slightly stale or momentarily
/// inconsistent sums across different counters.
public final class TargetStats: @unchecked Sendable {
    /// Largest supported sliding window, in seconds.
    public static let maxWindowSeconds: Int = 600

    /// Layout of a worker's all-time counters.
    enum Totals {
        static let assignments = 0
        static let responsesOther = 1
        static let responses2xx = 2
        static let responses3xx = 3
        static let responses4xx = 4
        static let responses5xx = 5
        static let errors = 6
        static let latencySumMicros = 7
        static let histogram = 8
        static let words = histogram + LatencyBuckets.count
    }

    /// Layout of one per-second bucket header.
    enum Slot {
        static let tag = 0
        static let responses = 1
        static let errors = 2
        static let words = 3
        /// Tag of a bucket that never held data: never inside any window.
        static let emptyTag = UInt64.max
    }

    /// One worker's storage; every buffer is a separate cache-line-aligned allocation.
    struct Block {
        let totals: AtomicU64Buffer
        let slotHeaders: AtomicU64Buffer
        let slotHistograms: AtomicU32Buffer
    }

    /// Number of worker slots; valid `worker` arguments are `0 ..< workers`.
    public let workers: Int
    /// Longest window (seconds) `snapshot` can cover; the default window of `snapshot(nowSecond:)`.
    public let windowCapacitySeconds: Int
    private let ringSize: Int
    private let blocks: [Block]

    /// Creates storage for `workers` workers and a sliding window of up to `windowSeconds` seconds
    /// (clamped to 1 ... 600), kept as a ring of `windowSeconds + 1` per-second buckets.
    public init(workers: Int, windowSeconds: Int) {
        precondition(workers > 0, "TargetStats needs at least one worker")
        self.workers = workers
        self.windowCapacitySeconds = Swift.min(Swift.max(windowSeconds, 1), Self.maxWindowSeconds)
        self.ringSize = windowCapacitySeconds + 1
        let ring = ringSize
        self.blocks = (0..<workers).map { _ in
            let headers = AtomicU64Buffer(count: ring * Slot.words)
            for s in 0..<ring { headers.store(s * Slot.words + Slot.tag, Slot.emptyTag) }
            return Block(
                totals: AtomicU64Buffer(count: Totals.words),
                slotHeaders: headers,
                slotHistograms: AtomicU32Buffer(count: ring * LatencyBuckets.count))
        }
    }

    deinit {
        for b in blocks {
            b.totals.deallocate()
            b.slotHeaders.deallocate()
            b.slotHistograms.deallocate()
        }
    }

    /// Counts one request assigned to this target (called when the routing decision is made).
    @inline(__always)
    public func recordAssignment(worker: Int) {
        blocks[worker].totals.add(Totals.assignments, 1)
    }

    /// Records a finished exchange.
    ///
    /// - Parameters:
    ///   - worker: index of the calling worker; only that worker's thread may pass it.
    ///   - nowSecond: current monotonic second of the worker's clock (never decreasing per worker).
    ///   - status: HTTP status sent to the client, 0 when there was none (e.g. reset).
    ///   - isError: 5xx, gRPC status != 0, timeout, connect failure, upstream reset.
    ///   - latencyMicros: time from assignment to the end of the exchange.
    @inline(__always)
    public func recordResponse(worker: Int, nowSecond: UInt64, status: Int, isError: Bool, latencyMicros: UInt64) {
        let block = blocks[worker]
        let bucket = LatencyBuckets.index(micros: latencyMicros)
        let totals = block.totals
        totals.add(Self.statusClassWord(status), 1)
        if isError { totals.add(Totals.errors, 1) }
        totals.add(Totals.latencySumMicros, latencyMicros)
        totals.add(Totals.histogram + bucket, 1)

        let slot = Int(truncatingIfNeeded: nowSecond % UInt64(ringSize))
        let header = slot * Slot.words
        let histogramBase = slot * LatencyBuckets.count
        let headers = block.slotHeaders
        if headers.load(header + Slot.tag) != nowSecond {
            // Recycle: zero first, then publish the tag (release) so an acquiring reader never pairs the new
            // tag with the old second's counts.
            headers.store(header + Slot.responses, 0)
            headers.store(header + Slot.errors, 0)
            block.slotHistograms.zero(start: histogramBase, length: LatencyBuckets.count)
            headers.storeReleasing(header + Slot.tag, nowSecond)
        }
        headers.add(header + Slot.responses, 1)
        if isError { headers.add(header + Slot.errors, 1) }
        block.slotHistograms.increment(histogramBase + bucket)
    }

    /// Word of `Totals` that counts responses with `status`.
    @inline(__always)
    static func statusClassWord(_ status: Int) -> Int {
        switch status {
        case 200..<300: return Totals.responses2xx
        case 300..<400: return Totals.responses3xx
        case 400..<500: return Totals.responses4xx
        case 500..<600: return Totals.responses5xx
        default: return Totals.responsesOther
        }
    }

    /// Merged view of all workers: all-time counters plus the window of the last `windowSeconds` seconds
    /// ending at `nowSecond` (clamped to 1 ... `windowCapacitySeconds`).
    public func snapshot(nowSecond: UInt64, windowSeconds: Int) -> TargetSnapshot {
        var words = [UInt64](repeating: 0, count: Totals.histogram)
        var histogram = [UInt64](repeating: 0, count: LatencyBuckets.count)
        for block in blocks {
            let totals = block.totals
            for w in 0..<Totals.histogram { words[w] &+= totals.load(w) }
            for i in 0..<LatencyBuckets.count { histogram[i] &+= totals.load(Totals.histogram + i) }
        }
        return TargetSnapshot(
            requests: words[Totals.assignments],
            responses2xx: words[Totals.responses2xx],
            responses3xx: words[Totals.responses3xx],
            responses4xx: words[Totals.responses4xx],
            responses5xx: words[Totals.responses5xx],
            responsesOther: words[Totals.responsesOther],
            errors: words[Totals.errors],
            latencySumMicros: words[Totals.latencySumMicros],
            latencyHistogram: histogram,
            window: windowSnapshot(nowSecond: nowSecond, windowSeconds: windowSeconds))
    }

    /// Merged view over the full window capacity.
    public func snapshot(nowSecond: UInt64) -> TargetSnapshot {
        snapshot(nowSecond: nowSecond, windowSeconds: windowCapacitySeconds)
    }

    /// Only the sliding-window part (cheaper than `snapshot`; meant for the rollback controller).
    public func windowSnapshot(nowSecond: UInt64, windowSeconds: Int) -> WindowSnapshot {
        let window = Swift.min(Swift.max(windowSeconds, 1), windowCapacitySeconds)
        var responses: UInt64 = 0
        var errors: UInt64 = 0
        var histogram = [UInt64](repeating: 0, count: LatencyBuckets.count)
        var scratch = [UInt32](repeating: 0, count: LatencyBuckets.count)
        for block in blocks {
            let headers = block.slotHeaders
            for slot in 0..<ringSize {
                let header = slot * Slot.words
                let tag = headers.loadAcquiring(header + Slot.tag)
                guard tag <= nowSecond, nowSecond - tag < UInt64(window) else { continue }
                let slotResponses = headers.load(header + Slot.responses)
                let slotErrors = headers.load(header + Slot.errors)
                let base = slot * LatencyBuckets.count
                for i in 0..<LatencyBuckets.count { scratch[i] = block.slotHistograms.load(base + i) }
                atomicMemoryFence(ordering: .acquiring)
                guard headers.load(header + Slot.tag) == tag else { continue }   // recycled while reading
                responses &+= slotResponses
                errors &+= slotErrors
                for i in 0..<LatencyBuckets.count where scratch[i] != 0 { histogram[i] &+= UInt64(scratch[i]) }
            }
        }
        return WindowSnapshot(seconds: window, requests: responses, errors: errors, latencyHistogram: histogram)
    }
}
