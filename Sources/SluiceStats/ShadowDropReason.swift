/// Why a request that was selected for shadow mirroring was not (fully) mirrored.
public enum ShadowDropReason: Int, CaseIterable, Sendable {
    /// The route's limit on concurrent shadow requests was reached.
    case inFlightLimit
    /// The request body exceeded the size the proxy is willing to buffer for mirroring.
    case bodyTooLarge
    /// The primary exchange ended (e.g. client went away) before the mirror could be sent.
    case cancelled
    /// Any other reason (e.g. the primary goes to an HTTP/2 backend). A copy that was sent and
    /// failed is not a drop: it counts in the shadow's `errors`.
    case other

    /// Value for a Prometheus `reason` label (snake_case).
    public var label: String {
        switch self {
        case .inFlightLimit: return "in_flight_limit"
        case .bodyTooLarge: return "body_too_large"
        case .cancelled: return "cancelled"
        case .other: return "other"
        }
    }
}
