import Synchronization

/// Alignment and padding granule (bytes) of every per-worker allocation.
///
/// Each worker's storage is allocated separately, aligned to and padded up to this size, so two workers never
/// write to the same cache line (128 also covers the adjacent-line prefetcher on x86 and 128-byte lines on
/// Apple silicon).
let workerStorageAlignment = 128

/// Bytes to allocate for `count` elements of `stride` bytes, rounded up to `workerStorageAlignment`.
@inline(__always)
func paddedByteCount(count: Int, stride: Int) -> Int {
    let bytes = Swift.max(1, count) * stride
    return (bytes + workerStorageAlignment - 1) / workerStorageAlignment * workerStorageAlignment
}

/// A fixed-size heap array of `Atomic<UInt64>` words, cache-line aligned and padded.
///
/// This is a plain bag of pointers: the owning class allocates it in `init` and calls `deallocate()` in its
/// `deinit`. Every access is a relaxed atomic operation, so concurrent loads from reader threads are never
/// data races. Mutating helpers assume ONE writer thread per buffer (load + store, no read-modify-write);
/// use `atomicAdd` where several threads may write the same word.
struct AtomicU64Buffer {
    /// First word.
    let base: UnsafeMutablePointer<Atomic<UInt64>>
    /// Number of words.
    let count: Int

    /// Allocates `count` words, each initialised to `initialValue`.
    init(count: Int, initialValue: UInt64 = 0) {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: paddedByteCount(count: count, stride: MemoryLayout<Atomic<UInt64>>.stride),
            alignment: workerStorageAlignment)
        let typed = raw.bindMemory(to: Atomic<UInt64>.self, capacity: Swift.max(1, count))
        for i in 0..<count { (typed + i).initialize(to: Atomic(initialValue)) }
        self.base = typed
        self.count = count
    }

    /// Frees the storage; call exactly once, from the owner's `deinit`.
    func deallocate() {
        base.deinitialize(count: count)
        UnsafeMutableRawPointer(base).deallocate()
    }

    /// Relaxed load of word `i`.
    @inline(__always)
    func load(_ i: Int) -> UInt64 {
        assert(i >= 0 && i < count)
        return base[i].load(ordering: .relaxed)
    }

    /// Acquiring load of word `i` (pairs with `storeReleasing`).
    @inline(__always)
    func loadAcquiring(_ i: Int) -> UInt64 {
        assert(i >= 0 && i < count)
        return base[i].load(ordering: .acquiring)
    }

    /// Relaxed store into word `i`.
    @inline(__always)
    func store(_ i: Int, _ value: UInt64) {
        assert(i >= 0 && i < count)
        base[i].store(value, ordering: .relaxed)
    }

    /// Releasing store into word `i`: earlier writes become visible to a reader that acquires this value.
    @inline(__always)
    func storeReleasing(_ i: Int, _ value: UInt64) {
        assert(i >= 0 && i < count)
        base[i].store(value, ordering: .releasing)
    }

    /// Single-writer wrapping add: relaxed load + relaxed store (no locked instruction).
    @inline(__always)
    func add(_ i: Int, _ delta: UInt64) {
        assert(i >= 0 && i < count)
        base[i].store(base[i].load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }

    /// Multi-writer wrapping add (atomic read-modify-write).
    @inline(__always)
    func atomicAdd(_ i: Int, _ delta: UInt64) {
        assert(i >= 0 && i < count)
        base[i].wrappingAdd(delta, ordering: .relaxed)
    }
}

/// A fixed-size heap array of `Atomic<UInt32>` words, cache-line aligned and padded.
///
/// Same ownership and single-writer rules as `AtomicU64Buffer`; used for per-second histogram counts, which
/// can never reach 2^32 within one second on one worker, to halve the memory of the sliding window.
struct AtomicU32Buffer {
    /// First word.
    let base: UnsafeMutablePointer<Atomic<UInt32>>
    /// Number of words.
    let count: Int

    /// Allocates `count` zeroed words.
    init(count: Int) {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: paddedByteCount(count: count, stride: MemoryLayout<Atomic<UInt32>>.stride),
            alignment: workerStorageAlignment)
        let typed = raw.bindMemory(to: Atomic<UInt32>.self, capacity: Swift.max(1, count))
        for i in 0..<count { (typed + i).initialize(to: Atomic(0)) }
        self.base = typed
        self.count = count
    }

    /// Frees the storage; call exactly once, from the owner's `deinit`.
    func deallocate() {
        base.deinitialize(count: count)
        UnsafeMutableRawPointer(base).deallocate()
    }

    /// Relaxed load of word `i`.
    @inline(__always)
    func load(_ i: Int) -> UInt32 {
        assert(i >= 0 && i < count)
        return base[i].load(ordering: .relaxed)
    }

    /// Single-writer wrapping add of 1: relaxed load + relaxed store.
    @inline(__always)
    func increment(_ i: Int) {
        assert(i >= 0 && i < count)
        base[i].store(base[i].load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Relaxed stores of zero into words `start ..< start + length` (single writer).
    @inline(__always)
    func zero(start: Int, length: Int) {
        assert(start >= 0 && start + length <= count)
        for i in start..<(start + length) { base[i].store(0, ordering: .relaxed) }
    }
}
