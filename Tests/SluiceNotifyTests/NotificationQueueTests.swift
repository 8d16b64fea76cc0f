import SluiceConfig
@testable import SluiceNotify
import Testing

/// The queue's order (earliest due first, ties in arrival order), its bound, and the back-off.
struct NotificationQueueTests {
    static let a = destination(1)
    static let b = destination(2)

    @Test func retriesWaitWhileLaterArrivalsGoFirst() throws {
        var queue = NotificationQueue(capacity: 4)
        do { let added = queue.enqueue([1], to: Self.a, now: 0); #expect(added) }
        do { let added = queue.enqueue([2], to: Self.b, now: 0); #expect(added) }

        guard case .ready(let first) = queue.next(now: 0) else { Issue.record("expected a"); return }
        #expect(first.body == [1] && first.attempts == 1)
        queue.reschedule(id: first.id, dueNanos: 100)

        guard case .ready(let second) = queue.next(now: 10) else { Issue.record("expected b"); return }
        #expect(second.body == [2])
        guard case .wait(let until) = queue.next(now: 10) else { Issue.record("expected a wait"); return }
        #expect(until == 100)
        queue.remove(id: second.id)

        guard case .ready(let retry) = queue.next(now: 100) else { Issue.record("expected a's retry"); return }
        #expect(retry.body == [1] && retry.attempts == 2)
        queue.remove(id: retry.id)
        guard case .empty = queue.next(now: 100) else { Issue.record("expected empty"); return }
    }

    @Test func drainingIgnoresDueTimes() {
        var queue = NotificationQueue(capacity: 2)
        _ = queue.enqueue([1], to: Self.a, now: 0)
        guard case .ready(let d) = queue.next(now: 0) else { Issue.record("expected ready"); return }
        queue.reschedule(id: d.id, dueNanos: 1_000)
        guard case .ready = queue.next(now: 0, ignoringDueTimes: true) else { Issue.record("expected ready"); return }
    }

    @Test func inFlightDeliveriesKeepTheirSlot() {
        var queue = NotificationQueue(capacity: 2)
        do { let added = queue.enqueue([1], to: Self.a, now: 0); #expect(added) }
        do { let added = queue.enqueue([2], to: Self.a, now: 0); #expect(added) }
        _ = queue.next(now: 0)
        do { let added = queue.enqueue([3], to: Self.a, now: 0); #expect(!added) }
        #expect(queue.count == 2)
    }

    @Test func backoffDoublesUpToTheCap() {
        let base: UInt64 = 500_000_000
        let delays = (1...8).map { RetryBackoff.delayNanos(afterAttempt: $0, baseNanos: base) }
        #expect(delays == [500_000_000, 1_000_000_000, 2_000_000_000, 4_000_000_000, 8_000_000_000,
                           16_000_000_000, 30_000_000_000, 30_000_000_000])
        #expect(RetryBackoff.delayNanos(afterAttempt: 200, baseNanos: base) == 30_000_000_000)
    }
}
