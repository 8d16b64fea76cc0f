import SluiceConfig
import SluiceRouting

/// A rollout event worth telling the outside world about (webhooks): what happened to which route,
/// with the numbers of the latest evaluation. Built by the control plane under its lock; the sink only
/// queues it.
public struct RouteNotification: Sendable {
    /// The route.
    public var route: String
    /// Notification name: rolled_back, promoted, step, paused, resumed, awaiting_approval, approved,
    /// inconclusive or would_roll_back.
    public var event: String
    /// The backend concerned, if any.
    public var target: String?
    /// The route's state after the event.
    public var state: String
    /// Why, in words.
    public var reason: String
    /// The snapshot generation after the event (raised by every published change).
    public var generation: UInt64
    /// Wall-clock seconds since the epoch.
    public var time: Double
    /// The latest evaluation's numbers, if the route has rollback rules and was evaluated.
    public var evaluation: RolloutEvaluation?
    /// Backend name of each of the route's targets (names the evaluation's target indices).
    public var targetNames: [String]

    /// The notification name of a route event type, or `nil` for events that are not notified
    /// (reloads, operator weight changes).
    public static func eventName(forEventType type: String) -> String? {
        switch type {
        case "rollback": return "rolled_back"
        case "promotion": return "promoted"
        case "weight_change": return "step"
        case "pause": return "paused"
        case "resume": return "resumed"
        case "awaiting_approval": return "awaiting_approval"
        case "approval": return "approved"
        case "inconclusive": return "inconclusive"
        case "would_roll_back": return "would_roll_back"
        default: return nil
        }
    }
}

/// Receives every ``RouteNotification`` with the config in force (whose `notify` lists say where it goes).
/// Called under the control plane's lock: it must only queue, never block.
public typealias NotificationSink = @Sendable (RouteNotification, SluiceConfig) -> Void
