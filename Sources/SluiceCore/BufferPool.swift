/// Fixed-size byte blocks for connection buffers, reused instead of freed: a connection takes a
/// block when bytes arrive (or a response is about to be written) and gives it back when it goes
/// idle or closes, so an idle connection holds no buffer and, in steady state, serving allocates
/// none.
///
/// One pool per worker; it is touched only on that worker's thread, like everything else on its
/// loop (not Sendable). At most `maxFree` blocks wait in it; blocks given back beyond that are
/// freed, which bounds what a burst of activity leaves resident.
public final class BufferPool {
    /// Bytes in every block.
    public let blockSize: Int
    /// Most blocks kept for reuse.
    public let maxFree: Int
    /// Blocks waiting for reuse: `freeBlocks[0 ..< freeCount]` (a fixed array of `maxFree` slots, so
    /// taking and giving back are a load and a store, with no array bookkeeping on the hot path).
    private let freeBlocks: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Blocks waiting for reuse now.
    public private(set) var freeCount = 0

    /// An empty pool of `blockSize`-byte blocks keeping at most `maxFree` of them.
    public init(blockSize: Int, maxFree: Int) {
        self.blockSize = blockSize
        self.maxFree = max(maxFree, 0)
        freeBlocks = .allocate(capacity: max(maxFree, 1))
    }

    deinit {
        for i in 0..<freeCount { freeBlocks[i]?.deallocate() }
        freeBlocks.deallocate()
    }

    /// A block: a reused one, or a new one when none waits.
    @inline(__always)
    public func take() -> UnsafeMutableRawPointer {
        if freeCount > 0, let block = freeBlocks[freeCount - 1] {
            freeCount -= 1
            return block
        }
        return .allocate(byteCount: blockSize, alignment: 16)
    }

    /// Takes back a block that came from `take` (its contents are dropped).
    @inline(__always)
    public func give(_ block: UnsafeMutableRawPointer) {
        if freeCount < maxFree {
            freeBlocks[freeCount] = block
            freeCount += 1
        } else {
            block.deallocate()
        }
    }
}
