import Foundation
import SluiceConfig
import SluiceNotify
import SluiceStats
import Testing

/// A destination on 127.0.0.1.
func destination(_ port: UInt16, path: String = "/hook", timeoutMillis: UInt64 = 2_000, maxAttempts: Int = 5) -> NotifySpec {
    NotifySpec(url: "http://127.0.0.1:\(port)\(path)", host: "127.0.0.1", port: port, path: path,
               timeoutNanos: timeoutMillis * 1_000_000, maxAttempts: maxAttempts)
}

/// A JSON event body numbered `n`.
func eventBody(_ n: Int, event: String = "step") -> [UInt8] {
    Array(#"{"route":"fraud","event":"\#(event)","seq":\#(n)}"#.utf8)
}

/// Deliveries against real local receivers: once each, retried, given up, and never held up by a
/// failing destination.
struct NotifierDeliveryTests {
    @Test func eachEventArrivesExactlyOnceWithItsBodyAndHeaders() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let notifier = Notifier(backoffBaseNanos: 20_000_000)
        notifier.start()
        defer { notifier.stop() }
        let bodies = (0..<5).map { eventBody($0) }
        for body in bodies { notifier.publish(to: [destination(receiver.port)], body: body) }

        #expect(eventually { notifier.counters.sent == 5 })
        let got = receiver.requests
        #expect(got.map(\.body) == bodies)
        for request in got {
            #expect(request.method == "POST")
            #expect(request.target == "/hook")
            #expect(request.headers["content-type"] == "application/json")
            #expect(request.headers["user-agent"] == "sluice")
            #expect(request.headers["content-length"] == String(request.body.count))
        }
        #expect(Set(got.compactMap { $0.headers["x-sluice-delivery"] }).count == 5)
        #expect(notifier.counters == NotifierCounters(sent: 5))
    }

    @Test func aReceiverFailingTwiceGetsTheEventOnceAndFailuresAreCounted() throws {
        let receiver = try WebhookReceiver(failFirst: 2)
        defer { receiver.stop() }
        let stats = GlobalStats(workers: 1)
        let notifier = Notifier(backoffBaseNanos: 20_000_000, stats: stats)
        notifier.start()
        defer { notifier.stop() }
        notifier.publish(to: [destination(receiver.port)], body: eventBody(1, event: "rolled_back"))

        #expect(eventually { notifier.counters.sent == 1 })
        let got = receiver.requests
        #expect(got.map(\.status) == [500, 500, 200])
        #expect(got.allSatisfy { $0.body == eventBody(1, event: "rolled_back") })
        // Every attempt carries the same delivery id, so a receiver could also deduplicate.
        #expect(Set(got.compactMap { $0.headers["x-sluice-delivery"] }).count == 1)
        #expect(notifier.counters == NotifierCounters(sent: 1, failedAttempts: 2))
        #expect(stats.value(.notificationsSent) == 1)
        #expect(stats.value(.notificationFailures) == 2)
        #expect(stats.value(.notificationsGivenUp) == 0)
    }

    @Test func anEventIsGivenUpAfterMaxAttempts() throws {
        let receiver = try WebhookReceiver(failFirst: 1_000)
        defer { receiver.stop() }
        let stats = GlobalStats(workers: 1)
        let notifier = Notifier(backoffBaseNanos: 10_000_000, stats: stats)
        notifier.start()
        defer { notifier.stop() }
        notifier.publish(to: [destination(receiver.port, maxAttempts: 3)], body: eventBody(1))

        #expect(eventually { notifier.counters.givenUp == 1 })
        #expect(receiver.requests.map(\.status) == [500, 500, 500])
        #expect(notifier.counters == NotifierCounters(failedAttempts: 3, givenUp: 1))
        #expect(stats.value(.notificationsGivenUp) == 1)
        #expect(stats.value(.notificationFailures) == 3)
    }

    @Test func aDeadDestinationDoesNotDelayALiveOne() throws {
        let live = try WebhookReceiver()
        defer { live.stop() }
        let deadPort = try WebhookReceiver.closedPort()
        // A long back-off: the dead destination's retry is due 1 s after its first failure.
        let notifier = Notifier(backoffBaseNanos: 1_000_000_000)
        notifier.start()
        defer { notifier.stop() }
        let started = Date()
        notifier.publish(to: [destination(deadPort, maxAttempts: 2), destination(live.port)], body: eventBody(7))

        #expect(eventually { live.requests.count == 1 })
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 0.9, "the live receiver waited \(elapsed) s")
        #expect(notifier.counters.failedAttempts == 1)
        #expect(eventually { notifier.counters.givenUp == 1 })
        #expect(notifier.counters == NotifierCounters(sent: 1, failedAttempts: 2, givenUp: 1))
        #expect(live.requests.map(\.body) == [eventBody(7)])
    }

    @Test func aHangingDestinationHoldsOthersForOneTimeoutAtMost() throws {
        let hanging = try WebhookReceiver(hang: true)
        defer { hanging.stop() }
        let live = try WebhookReceiver()
        defer { live.stop() }
        let notifier = Notifier(backoffBaseNanos: 1_000_000_000, drainNanos: 200_000_000)
        notifier.start()
        defer { notifier.stop() }
        notifier.publish(to: [destination(hanging.port, timeoutMillis: 300, maxAttempts: 3)], body: eventBody(1))
        notifier.publish(to: [destination(live.port)], body: eventBody(2))

        #expect(eventually { live.requests.count == 1 })
        // The live event went out right after the first attempt timed out, before any retry.
        #expect(hanging.requests.count == 1)
        #expect(notifier.counters.failedAttempts == 1)
        #expect(eventually { notifier.counters.sent == 1 })
    }
}
