import Glibc
import Logging
import SluiceConfig
import SluiceCore
import SluiceStats
import SluiceSupport
import Synchronization

/// Sends rollout events to webhooks from one background thread, never from the caller's.
///
/// ``publish(to:body:)`` only appends to a bounded queue (one entry per destination) and rings a
/// doorbell; the thread POSTs each entry with `content-type: application/json`. A 2xx answer
/// delivers it; anything else, a connection error or a timeout is a failed attempt, retried after
/// an exponential back-off (`backoffBaseNanos × 2^(k-1)`, at most 30 s) until the destination's
/// `max_attempts`, then given up and logged. Pending entries are served earliest-due first, so a
/// destination waiting for its retry does not hold up the others; an attempt in progress does,
/// for at most the destination's `timeout` per network step.
///
/// Delivery is at least once per attempt: a receiver that answers 2xx gets the event once; one
/// that took the body but answered late may see it again (same `x-sluice-delivery` header).
///
/// Plain `Sendable`: every stored property is immutable, atomic, or inside a `Mutex`.
public final class Notifier: Sendable {
    /// Where the worker thread is in its life.
    enum Phase: Sendable {
        /// `start()` not called yet: events queue up.
        case idle
        /// The thread serves the queue.
        case running
        /// `stop()` called: the thread makes one last attempt at what is queued, until the deadline.
        case stopping(deadlineNanos: UInt64)
        /// Done: new events are dropped.
        case stopped
    }

    /// Queue and phase, changed together.
    struct State: Sendable {
        var queue: NotificationQueue
        var phase: Phase = .idle
    }

    /// Most deliveries held at once.
    public let capacity: Int
    /// The first retry's delay; each further one doubles it.
    public let backoffBaseNanos: UInt64
    /// The longest delay between two attempts.
    public let backoffCapNanos: UInt64
    /// How long ``stop()`` lets the thread deliver what is queued.
    public let drainNanos: UInt64

    let state: Mutex<State>
    let doorbell = Doorbell()
    let logger: Logger
    /// Process-wide counters mirrored for `/metrics` and `/stats`, if given.
    let stats: GlobalStats?
    /// Prefix of the `x-sluice-delivery` header, random per notifier.
    let deliveryPrefix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
    private let sentCount = Atomic<UInt64>(0)
    private let failedCount = Atomic<UInt64>(0)
    private let givenUpCount = Atomic<UInt64>(0)
    private let droppedCount = Atomic<UInt64>(0)
    /// Set by the thread as it exits.
    let threadExited = Atomic<Bool>(false)

    /// Creates a notifier; nothing is sent before ``start()``.
    ///
    /// - Parameters:
    ///   - capacity: most deliveries (event × destination) queued at once; beyond it events are dropped.
    ///   - backoffBaseNanos: delay before the first retry.
    ///   - backoffCapNanos: longest delay between attempts.
    ///   - drainNanos: how long ``stop()`` waits for the queue to be delivered.
    ///   - stats: if given, the `notifications*` ``GlobalCounter``s are kept in it too.
    ///   - logger: where deliveries given up and dropped events are logged.
    public init(
        capacity: Int = 256, backoffBaseNanos: UInt64 = 500_000_000,
        backoffCapNanos: UInt64 = RetryBackoff.defaultCapNanos, drainNanos: UInt64 = 1_000_000_000,
        stats: GlobalStats? = nil, logger: Logger = Logger(label: "sluice.notify")
    ) {
        self.capacity = max(1, capacity)
        self.backoffBaseNanos = backoffBaseNanos
        self.backoffCapNanos = backoffCapNanos
        self.drainNanos = drainNanos
        self.stats = stats
        self.logger = logger
        state = Mutex(State(queue: NotificationQueue(capacity: capacity)))
    }

    /// Starts the delivery thread (once; later calls do nothing).
    public func start() {
        let starting = state.withLock { s -> Bool in
            guard case .idle = s.phase else { return false }
            s.phase = .running
            return true
        }
        guard starting else { return }
        if !NotifierThread.spawn(self) {
            logger.error("cannot start the notification thread: webhooks will not be sent")
            let left = state.withLock { s -> [PendingDelivery] in
                s.phase = .stopped
                return s.queue.removeAll()
            }
            giveUp(left, reason: "the notification thread could not start")
        }
    }

    /// Stops the thread: what is queued gets one last attempt each (no more back-off) until
    /// ``drainNanos`` has passed; what is left is given up. Returns within about ``drainNanos``
    /// even if an attempt is still waiting on a receiver (the thread then exits when it ends).
    public func stop() {
        let now = MonotonicClock.now()
        let (wasRunning, abandoned) = state.withLock { s -> (Bool, [PendingDelivery]) in
            switch s.phase {
            case .idle:
                s.phase = .stopped
                return (false, s.queue.removeAll())
            case .running:
                s.phase = .stopping(deadlineNanos: now &+ drainNanos)
                return (true, [])
            case .stopping, .stopped:
                return (false, [])
            }
        }
        giveUp(abandoned, reason: "the notifier stopped before it was started")
        guard wasRunning else { return }
        doorbell.ring()
        while !threadExited.load(ordering: .acquiring) && MonotonicClock.now() &- now < drainNanos {
            usleep(2_000)
        }
    }

    /// Queues `body` for each destination and returns at once; never blocks on the network.
    ///
    /// When the queue is full (or the notifier has stopped) the delivery is dropped and counted.
    public func publish(to destinations: [NotifySpec], body: [UInt8]) {
        guard !destinations.isEmpty else { return }
        let now = MonotonicClock.now()
        let dropped = state.withLock { s -> [NotifySpec] in
            if case .stopping = s.phase { return destinations }
            if case .stopped = s.phase { return destinations }
            return destinations.filter { !s.queue.enqueue(body, to: $0, now: now) }
        }
        if dropped.count < destinations.count { doorbell.ring() }
        guard !dropped.isEmpty else { return }
        droppedCount.add(UInt64(dropped.count), ordering: .relaxed)
        stats?.addShared(.notificationsDropped, UInt64(dropped.count))
        logger.warning("notification dropped: queue full or notifier stopped", metadata: [
            "urls": "\(dropped.map(\.url).joined(separator: ","))", "capacity": "\(capacity)",
        ])
    }

    /// The counters so far, and the queue length now.
    public var counters: NotifierCounters {
        NotifierCounters(
            sent: sentCount.load(ordering: .relaxed), failedAttempts: failedCount.load(ordering: .relaxed),
            givenUp: givenUpCount.load(ordering: .relaxed), dropped: droppedCount.load(ordering: .relaxed),
            queued: state.withLock { $0.queue.count })
    }

    /// Counts one delivered notification.
    func countSent() {
        sentCount.add(1, ordering: .relaxed)
        stats?.incrementShared(.notificationsSent)
    }

    /// Counts one failed attempt.
    func countFailedAttempt() {
        failedCount.add(1, ordering: .relaxed)
        stats?.incrementShared(.notificationFailures)
    }

    /// Counts and logs deliveries abandoned for `reason`.
    func giveUp(_ deliveries: [PendingDelivery], reason: String) {
        guard !deliveries.isEmpty else { return }
        givenUpCount.add(UInt64(deliveries.count), ordering: .relaxed)
        stats?.addShared(.notificationsGivenUp, UInt64(deliveries.count))
        for d in deliveries {
            logger.error("notification given up", metadata: [
                "url": "\(d.destination.url)", "attempts": "\(d.attempts)", "reason": "\(reason)",
            ])
        }
    }
}
