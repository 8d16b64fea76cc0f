import Logging
import SluiceConfig
import SluiceCore
import SluiceSupport

/// The delivery thread's side of ``Notifier``: pick the earliest-due delivery, POST it, settle it.
extension Notifier {
    /// What the thread does next, decided under the lock.
    enum Step {
        /// Attempt this delivery; `budgetNanos` caps its timeout while draining.
        case deliver(PendingDelivery, budgetNanos: UInt64?)
        /// Sleep until rung or the time passed (`nil`: until rung).
        case sleep(UInt64?)
        /// Stop: these deliveries were still queued.
        case exit(abandoned: [PendingDelivery])
    }

    /// The thread body: runs until ``stop()`` and the drain are over.
    func runLoop() {
        defer { threadExited.store(true, ordering: .releasing) }
        while true {
            switch nextStep() {
            case .deliver(let delivery, let budget):
                let outcome = attempt(delivery, budgetNanos: budget)
                settle(delivery, outcome: outcome)
            case .sleep(let nanos):
                doorbell.wait(timeoutNanos: nanos)
            case .exit(let abandoned):
                giveUp(abandoned, reason: "still queued when the notifier stopped")
                return
            }
        }
    }

    /// Chooses the next step from the queue and the phase.
    func nextStep() -> Step {
        let now = MonotonicClock.now()
        return state.withLock { s -> Step in
            var budget: UInt64?
            switch s.phase {
            case .stopping(let deadline):
                if now >= deadline || s.queue.count == 0 {
                    s.phase = .stopped
                    return .exit(abandoned: s.queue.removeAll())
                }
                budget = deadline - now
            case .stopped:
                return .exit(abandoned: s.queue.removeAll())
            case .idle, .running:
                break
            }
            switch s.queue.next(now: now, ignoringDueTimes: budget != nil) {
            case .ready(let d): return .deliver(d, budgetNanos: budget)
            case .wait(let until): return .sleep(until - now)
            case .empty: return .sleep(nil)
            }
        }
    }

    /// One POST; `nil` when the receiver answered 2xx, otherwise why the attempt failed.
    func attempt(_ delivery: PendingDelivery, budgetNanos: UInt64?) -> String? {
        let spec = delivery.destination
        let timeout = max(1_000_000, min(spec.timeoutNanos, budgetNanos ?? .max))
        let client = SimpleHTTPClient(host: spec.host, port: spec.port, timeoutSeconds: Double(timeout) / 1e9)
        defer { client.close() }
        do {
            let response = try client.request("POST", spec.path, headers: [
                ("content-type", "application/json"),
                ("user-agent", "sluice"),
                ("x-sluice-delivery", "\(deliveryPrefix)-\(delivery.id)"),
                ("connection", "close"),
            ], body: delivery.body, collectBody: false)
            return (200..<300).contains(response.status) ? nil : "status \(response.status)"
        } catch {
            return error.description
        }
    }

    /// Counts the outcome and removes the delivery, or puts it back for its retry.
    func settle(_ delivery: PendingDelivery, outcome failure: String?) {
        guard let failure else {
            state.withLock { $0.queue.remove(id: delivery.id) }
            countSent()
            return
        }
        countFailedAttempt()
        let now = MonotonicClock.now()
        let delay = RetryBackoff.delayNanos(afterAttempt: delivery.attempts, baseNanos: backoffBaseNanos, capNanos: backoffCapNanos)
        let retrying = state.withLock { s -> Bool in
            guard case .running = s.phase, delivery.attempts < delivery.destination.maxAttempts else {
                s.queue.remove(id: delivery.id)
                return false
            }
            s.queue.reschedule(id: delivery.id, dueNanos: now &+ delay)
            return true
        }
        if retrying {
            logger.notice("notification attempt failed, will retry", metadata: [
                "url": "\(delivery.destination.url)", "attempt": "\(delivery.attempts)",
                "retry_in_ms": "\(delay / 1_000_000)", "error": "\(failure)",
            ])
        } else {
            giveUp([delivery], reason: failure)
        }
    }
}
