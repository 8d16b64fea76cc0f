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

}
