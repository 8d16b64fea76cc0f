import SluiceCore
import Testing
@testable import SluiceProxy

/// The pieces behind connection limits and lean idle connections, without sockets.
struct ConnectionLimitUnitTests {
    @Test func defaultLimitLeavesAReserveAndHalvesTheRest() {
        #expect(ConnectionBudget.defaultLimit(softDescriptorLimit: 1024) == 448)
        #expect(ConnectionBudget.defaultLimit(softDescriptorLimit: 65536) == 32704)
        #expect(ConnectionBudget.defaultLimit(softDescriptorLimit: 64) == 16, "never below 16")
    }

    @Test func budgetRefusesAtTheLimitAndFreesOnRelease() {
        let b = ConnectionBudget(defaultLimit: 2)
        #expect(b.tryAcquire(limit: 2))
        #expect(b.tryAcquire(limit: 2))
        #expect(!b.tryAcquire(limit: 2))
        #expect(b.count == 2)
        b.release()
        #expect(b.tryAcquire(limit: 2))
        #expect(!b.tryAcquire(limit: 1), "a lowered limit (reload) refuses until connections close")
    }

    @Test func acceptBackoffDoublesFromTenMillisecondsToOneSecondAndResets() {
        var b = AcceptBackoff()
        let ms: UInt64 = 1_000_000
        #expect((0..<9).map { _ in b.failed() / ms } == [10, 20, 40, 80, 160, 320, 640, 1000, 1000])
        b.succeeded()
        #expect(b.failed() == 10 * ms)
    }

    @Test func queuesTakePoolBlocksOnlyWhileInUse() {
        let pool = BufferPool(blockSize: 4096, maxFree: 1)
        var q = ByteQueue()
        #expect(!q.hasStorage && q.writableCount == 0)
        q.attach(pool)
        #expect(q.capacity == 4096)
        q.append("hello")
        q.detach(to: pool)
        #expect(q.hasStorage, "a queue holding bytes keeps its block")
        q.consume(5)
        q.detach(to: pool)
        #expect(!q.hasStorage && pool.freeCount == 1)
        q.attach(pool)
        #expect(pool.freeCount == 0, "the block is reused")
        // Appending without a block still works (it allocates); a grown block is freed, not pooled.
        var r = ByteQueue()
        r.append([UInt8](repeating: 7, count: 10_000))
        #expect(r.count == 10_000 && r.capacity >= 10_000)
        r.clear()
        r.detach(to: pool)
        #expect(!r.hasStorage && pool.freeCount == 0)
        q.clear()
        q.detach(to: pool)
        var s = ByteQueue()
        s.attach(pool)
        s.clear()
        q.attach(pool)
        q.detach(to: pool)
        s.detach(to: pool)
        #expect(pool.freeCount == 1, "at most maxFree blocks are kept")
        q.deallocate()
        r.deallocate()
        s.deallocate()
    }
}
