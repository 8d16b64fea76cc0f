import Foundation
import SluiceConfig
import SluiceNotify
import SluiceStats
import Testing

/// The queue bound, and stopping: prompt, and delivering what it can first.
struct NotifierLifecycleTests {
    @Test func aFullQueueDropsAndCountsWithoutBlocking() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let stats = GlobalStats(workers: 1)
        let notifier = Notifier(capacity: 4, stats: stats)
        defer { notifier.stop() }
        let started = Date()
        for n in 0..<10 { notifier.publish(to: [destination(receiver.port)], body: eventBody(n)) }
        #expect(Date().timeIntervalSince(started) < 0.5)
        #expect(notifier.counters == NotifierCounters(dropped: 6, queued: 4))
        #expect(stats.value(.notificationsDropped) == 6)

        notifier.start()
        #expect(eventually { notifier.counters.sent == 4 })
        #expect(receiver.requests.map(\.body) == (0..<4).map { eventBody($0) })
        #expect(notifier.counters == NotifierCounters(sent: 4, dropped: 6))
    }

    @Test func eachDestinationTakesOneSlot() throws {
        let notifier = Notifier(capacity: 3)
        defer { notifier.stop() }
        notifier.publish(to: [destination(1), destination(2)], body: eventBody(1))
        notifier.publish(to: [destination(1), destination(2)], body: eventBody(2))
        #expect(notifier.counters == NotifierCounters(dropped: 1, queued: 3))
    }

    @Test func stopReturnsPromptlyWhileAReceiverHangs() throws {
        let hanging = try WebhookReceiver(hang: true)
        defer { hanging.stop() }
        let notifier = Notifier(drainNanos: 300_000_000)
        notifier.start()
        for n in 0..<3 { notifier.publish(to: [destination(hanging.port, timeoutMillis: 10_000)], body: eventBody(n)) }
        #expect(eventually { hanging.requests.count == 1 })

        let started = Date()
        notifier.stop()
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 1.0, "stop took \(elapsed) s")
        notifier.publish(to: [destination(hanging.port)], body: eventBody(9))
        #expect(notifier.counters.dropped == 1)
    }

    @Test func stopDeliversWhatIsQueued() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let notifier = Notifier()
        notifier.start()
        for n in 0..<3 { notifier.publish(to: [destination(receiver.port)], body: eventBody(n)) }
        notifier.stop()
        #expect(receiver.requests.map(\.body) == (0..<3).map { eventBody($0) })
        #expect(notifier.counters == NotifierCounters(sent: 3))
    }

    @Test func stopGivesAWaitingRetryOneLastAttempt() throws {
        let receiver = try WebhookReceiver(failFirst: 1)
        defer { receiver.stop() }
        // The retry would be due in 60 s; stopping attempts it at once instead.
        let notifier = Notifier(backoffBaseNanos: 60_000_000_000)
        notifier.start()
        notifier.publish(to: [destination(receiver.port)], body: eventBody(1))
        #expect(eventually { notifier.counters.failedAttempts == 1 })

        let started = Date()
        notifier.stop()
        #expect(Date().timeIntervalSince(started) < 1.0)
        #expect(receiver.requests.map(\.status) == [500, 200])
        #expect(notifier.counters == NotifierCounters(sent: 1, failedAttempts: 1))
    }

    @Test func stoppingANotifierNeverStartedGivesUpItsQueue() {
        let notifier = Notifier()
        notifier.publish(to: [destination(1), destination(2)], body: eventBody(1))
        let started = Date()
        notifier.stop()
        #expect(Date().timeIntervalSince(started) < 0.1)
        #expect(notifier.counters == NotifierCounters(givenUp: 2))
    }
}
