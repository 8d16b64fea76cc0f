import SluiceConfig

/// One event on its way to one destination, as it waits in the ``NotificationQueue``.
struct PendingDelivery: Sendable {
    /// Queue-assigned number, unique within one notifier; also names the delivery to the receiver.
    let id: UInt64
    /// Where it goes.
    let destination: NotifySpec
    /// The JSON body, sent unchanged on every attempt.
    let body: [UInt8]
    /// Attempts started so far.
    var attempts = 0
    /// Monotonic time (ns) before which it is not attempted (again).
    var dueNanos: UInt64
    /// Whether an attempt is under way (it then keeps its queue slot).
    var inFlight = false
}
