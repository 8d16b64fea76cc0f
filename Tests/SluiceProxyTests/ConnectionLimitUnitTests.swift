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

}
