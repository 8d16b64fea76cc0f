/// What a ``Notifier`` has done so far: the figures behind the `sluice_notification*` metrics.
public struct NotifierCounters: Sendable, Hashable {
    /// Deliveries a destination acknowledged with a 2xx answer.
    public var sent: UInt64
    /// Attempts that failed: a non-2xx answer, a connection error or a timeout.
    public var failedAttempts: UInt64
    /// Deliveries abandoned: every attempt failed, or they were still pending when the notifier stopped.
    public var givenUp: UInt64
    /// Deliveries refused because the queue was full (or the notifier had been stopped).
    public var dropped: UInt64
    /// Deliveries waiting in the queue now (new ones and those waiting to be retried).
    public var queued: Int

    /// Creates a set of counters.
    public init(sent: UInt64 = 0, failedAttempts: UInt64 = 0, givenUp: UInt64 = 0, dropped: UInt64 = 0, queued: Int = 0) {
        self.sent = sent
        self.failedAttempts = failedAttempts
        self.givenUp = givenUp
        self.dropped = dropped
        self.queued = queued
    }
}
