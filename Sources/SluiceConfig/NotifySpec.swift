/// One webhook destination from a `notify:` list (top level or per route): where rollout events
/// are POSTed as JSON, which events, and how hard delivery is tried.
///
/// Only plain `http://` URLs are accepted for now; the host is an IP literal or `localhost`,
/// like every other address in the config (Sluice resolves no host names).
public struct NotifySpec: Sendable, Hashable {
    /// Every event name a `notify` entry may list, in documentation order.
    public static let eventNames: [String] = [
        "rolled_back", "promoted", "step", "paused", "resumed", "awaiting_approval", "approved",
        "inconclusive", "would_roll_back",
    ]

    /// The URL as written in the config (used in logs).
    public var url: String
    /// IPv4 literal, IPv6 literal without brackets, or `localhost`.
    public var host: String
    /// TCP port; 80 when the URL names none.
    public var port: UInt16
    /// Request target: the URL's path (and query, if any); `/` when the URL has none.
    public var path: String
    /// The events sent to this destination, each one of ``eventNames``; all of them by default.
    public var events: [String]
    /// Connect, send and per-read timeout of one delivery attempt, in nanoseconds. Default 2 s.
    public var timeoutNanos: UInt64
    /// Attempts per event before it is given up (the first try included). Default 5.
    public var maxAttempts: Int

    /// Creates a destination; `events` defaults to every event.
    public init(
        url: String, host: String, port: UInt16 = 80, path: String = "/",
        events: [String] = NotifySpec.eventNames, timeoutNanos: UInt64 = 2_000_000_000, maxAttempts: Int = 5
    ) {
        self.url = url
        self.host = host
        self.port = port
        self.path = path
        self.events = events
        self.timeoutNanos = timeoutNanos
        self.maxAttempts = maxAttempts
    }

    /// Whether this destination wants events named `event`.
    public func matches(event: String) -> Bool {
        events.contains(event)
    }
}

extension SluiceConfig {
    /// The destinations for `event` of route `route`: the top-level `notify` entries, then the
    /// route's own, keeping only those that list the event and each URL once (a URL named both
    /// at top level and on the route receives the event once).
    public func notifyDestinations(route: String, event: String) -> [NotifySpec] {
        var seen: Set<String> = []
        var result: [NotifySpec] = []
        for spec in notify + (routeNotify[route] ?? []) where spec.matches(event: event) {
            let key = "\(spec.host)|\(spec.port)|\(spec.path)"
            if seen.insert(key).inserted { result.append(spec) }
        }
        return result
    }
}
