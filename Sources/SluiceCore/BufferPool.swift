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
    /// Blocks waiting for reuse.
    private var free: [UnsafeMutableRawPointer] = []

    /// An empty pool of `blockSize`-byte blocks keeping at most `maxFree` of them.
    public init(blockSize: Int, maxFree: Int) {
        self.blockSize = blockSize
        self.maxFree = maxFree
        free.reserveCapacity(maxFree)
    }

    deinit {
        for b in free { b.deallocate() }
    }

    /// Blocks waiting for reuse now.
    public var freeCount: Int { free.count }

    /// A block: a reused one, or a new one when none waits.
    @inline(__always)
    public func take() -> UnsafeMutableRawPointer {
        free.popLast() ?? .allocate(byteCount: blockSize, alignment: 16)
    }

    /// Takes back a block that came from `take` (its contents are dropped).
    @inline(__always)
    public func give(_ block: UnsafeMutableRawPointer) {
        if free.count < maxFree { free.append(block) } else { block.deallocate() }
    }
}
