import Synchronization

/// Process-wide counters and gauges (`GlobalCounter`, `GlobalGauge`), written lock-free by the workers.
///
/// Worker `i` calls the `worker:` methods with its own index only. Threads that are not workers (admin,
/// rollback controller, config reloader) use the `...Shared` methods, which write one extra slot with atomic
/// read-modify-write instructions and are therefore safe from any number of threads.
///
/// `@unchecked Sendable` is sound because: every shared word is an `Atomic` accessed atomically (relaxed);
/// each worker block has exactly one writer thread, so its single-writer load+store updates are never lost;
/// the shared block is only updated with atomic `wrappingAdd`; the block array is immutable after `init`;
/// and readers tolerate slightly stale sums.
public final class GlobalStats: @unchecked Sendable {
    /// Layout of one block: counters first, then gauges (gauges stored as two's-complement `UInt64`).
    enum Words {
        static let gauges = GlobalCounter.allCases.count
        static let count = gauges + GlobalGauge.allCases.count
    }

    /// Number of worker slots; valid `worker` arguments are `0 ..< workers`.
    public let workers: Int
    /// `workers` single-writer blocks followed by one multi-writer shared block.
    private let blocks: [AtomicU64Buffer]

    /// Creates storage for `workers` workers plus the shared slot.
    public init(workers: Int) {
        precondition(workers > 0, "GlobalStats needs at least one worker")
        self.workers = workers
        self.blocks = (0...workers).map { _ in AtomicU64Buffer(count: Words.count) }
    }

    deinit {
        for b in blocks { b.deallocate() }
    }

    /// Adds 1 to `counter` in `worker`'s slot (calling worker thread only).
    @inline(__always)
    public func increment(_ counter: GlobalCounter, worker: Int) {
        precondition(worker >= 0 && worker < workers, "worker index out of range")
        blocks[worker].add(counter.rawValue, 1)
    }

    /// Adds `amount` to `counter` in `worker`'s slot (calling worker thread only).
    @inline(__always)
    public func add(_ counter: GlobalCounter, _ amount: UInt64, worker: Int) {
        precondition(worker >= 0 && worker < workers, "worker index out of range")
        blocks[worker].add(counter.rawValue, amount)
    }

    /// Adds `delta` (may be negative) to `gauge` in `worker`'s slot (calling worker thread only).
    @inline(__always)
    public func adjust(_ gauge: GlobalGauge, by delta: Int, worker: Int) {
        precondition(worker >= 0 && worker < workers, "worker index out of range")
        blocks[worker].add(Words.gauges + gauge.rawValue, UInt64(bitPattern: Int64(delta)))
    }

    /// Worker `worker`'s slot as a plain value, for the per-request counters: no reference to
    /// follow (and retain) per increment. Valid while this object lives; the worker keeps it.
    public func slot(worker: Int) -> GlobalStatsSlot {
        precondition(worker >= 0 && worker < workers, "worker index out of range")
        return GlobalStatsSlot(block: blocks[worker])
    }

    /// Adds 1 to `counter` from any thread (atomic read-modify-write on the shared slot).
    public func incrementShared(_ counter: GlobalCounter) {
        blocks[workers].atomicAdd(counter.rawValue, 1)
    }

    /// Adds `amount` to `counter` from any thread.
    public func addShared(_ counter: GlobalCounter, _ amount: UInt64) {
        blocks[workers].atomicAdd(counter.rawValue, amount)
    }

    /// Adds `delta` to `gauge` from any thread.
    public func adjustShared(_ gauge: GlobalGauge, by delta: Int) {
        blocks[workers].atomicAdd(Words.gauges + gauge.rawValue, UInt64(bitPattern: Int64(delta)))
    }

    /// Current value of one counter summed over all slots.
    public func value(_ counter: GlobalCounter) -> UInt64 {
        var total: UInt64 = 0
        for b in blocks { total &+= b.load(counter.rawValue) }
        return total
    }

    /// Current value of one gauge summed over all slots.
    public func value(_ gauge: GlobalGauge) -> Int {
        var total: UInt64 = 0
        for b in blocks { total &+= b.load(Words.gauges + gauge.rawValue) }
        return Int(Int64(bitPattern: total))
    }

    /// All counters summed over all slots, indexed by `GlobalCounter.rawValue`.
    public func counterValues() -> [UInt64] {
        var totals = [UInt64](repeating: 0, count: GlobalCounter.allCases.count)
        for b in blocks {
            for i in 0..<totals.count { totals[i] &+= b.load(i) }
        }
        return totals
    }

    /// All counters summed over all slots; every case has an entry.
    public func snapshot() -> [GlobalCounter: UInt64] {
        let totals = counterValues()
        var result: [GlobalCounter: UInt64] = [:]
        for c in GlobalCounter.allCases { result[c] = totals[c.rawValue] }
        return result
    }

    /// All gauges summed over all slots; every case has an entry.
    public func gaugeSnapshot() -> [GlobalGauge: Int] {
        var result: [GlobalGauge: Int] = [:]
        for g in GlobalGauge.allCases { result[g] = value(g) }
        return result
    }
}

/// One worker's slot of a ``GlobalStats`` (``GlobalStats/slot(worker:)``): the same single-writer
/// updates as the `worker:` methods, for that worker's thread only. It points into storage its
/// ``GlobalStats`` owns, so the holder keeps that object alive for as long as it uses the slot.
public struct GlobalStatsSlot {
    let block: AtomicU64Buffer

    /// Adds 1 to `counter`.
    @inline(__always)
    public func increment(_ counter: GlobalCounter) {
        block.add(counter.rawValue, 1)
    }

    /// Adds `delta` (may be negative) to `gauge`.
    @inline(__always)
    public func adjust(_ gauge: GlobalGauge, by delta: Int) {
        block.add(GlobalStats.Words.gauges + gauge.rawValue, UInt64(bitPattern: Int64(delta)))
    }
}
