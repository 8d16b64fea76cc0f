import SluiceConfig

/// The bounded set of pending deliveries, served earliest-due first.
///
/// A delivery waiting for its retry keeps its slot but not its turn: fresh events and other
/// destinations' retries that are due earlier go first, so one failing receiver delays the others
/// by at most the attempt in progress. Ties are served in arrival order. A plain value guarded by
/// the ``Notifier``'s mutex; with at most a few hundred entries, a linear scan is cheapest.
struct NotificationQueue: Sendable {
    /// What ``next(now:ignoringDueTimes:)`` found.
    enum Next: Sendable {
        /// This delivery is due; it is now marked in flight.
        case ready(PendingDelivery)
        /// Nothing is due before this monotonic time (ns).
        case wait(untilNanos: UInt64)
        /// Nothing is waiting.
        case empty
    }

    /// Most deliveries held at once (in flight included).
    let capacity: Int
    /// Pending deliveries in arrival order.
    private(set) var items: [PendingDelivery] = []
    private var nextID: UInt64 = 0

    /// Creates an empty queue holding at most `capacity` deliveries.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Number of deliveries held.
    var count: Int { items.count }

    /// Adds a delivery due at `now`; false (nothing added) when the queue is full.
    mutating func enqueue(_ body: [UInt8], to destination: NotifySpec, now: UInt64) -> Bool {
        guard items.count < capacity else { return false }
        items.append(PendingDelivery(id: nextID, destination: destination, body: body, dueNanos: now))
        nextID &+= 1
        return true
    }

    /// The earliest-due delivery not in flight, if it is due at `now` (any due time counts when
    /// `ignoringDueTimes`, as during the drain at stop); it is marked in flight and its attempt counted.
    mutating func next(now: UInt64, ignoringDueTimes: Bool = false) -> Next {
        var best: Int?
        for i in items.indices where !items[i].inFlight {
            if let b = best, items[b].dueNanos <= items[i].dueNanos { continue }
            best = i
        }
        guard let best else { return .empty }
        if !ignoringDueTimes && items[best].dueNanos > now { return .wait(untilNanos: items[best].dueNanos) }
        items[best].inFlight = true
        items[best].attempts += 1
        return .ready(items[best])
    }

    /// Removes delivery `id` (delivered or given up).
    mutating func remove(id: UInt64) {
        items.removeAll { $0.id == id }
    }

    /// Puts delivery `id` back in line, due at `dueNanos`.
    mutating func reschedule(id: UInt64, dueNanos: UInt64) {
        guard let i = items.firstIndex(where: { $0.id == id }) else { return }
        items[i].inFlight = false
        items[i].dueNanos = dueNanos
    }

    /// Empties the queue and returns what was in it.
    mutating func removeAll() -> [PendingDelivery] {
        defer { items.removeAll() }
        return items
    }
}
