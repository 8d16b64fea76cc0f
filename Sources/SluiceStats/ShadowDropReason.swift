/// Why a request that was selected for shadow mirroring was not (fully) mirrored.
public enum ShadowDropReason: Int, CaseIterable, Sendable {
    /// The route's limit on concurrent shadow requests was reached.
    case inFlightLimit
    /// The request body exceeded the size the proxy is willing to buffer for mirroring.
    case bodyTooLarge
    /// No connection to the shadow upstream could be established.
    case connectFailed
    /// Writing the mirrored request to the shadow upstream failed.
    case writeFailed
    /// The shadow exchange was abandoned after its deadline.
    case timeout
    /// The primary exchange ended (e.g. client went away) before the mirror could be sent.
    case cancelled
    /// Any other reason.
    case other

    /// Value for a Prometheus `reason` label (snake_case).
    public var label: String {
        switch self {
        case .inFlightLimit: return "in_flight_limit"
        case .bodyTooLarge: return "body_too_large"
        case .connectFailed: return "connect_failed"
        case .writeFailed: return "write_failed"
        case .timeout: return "timeout"
        case .cancelled: return "cancelled"
        case .other: return "other"
        }
    }
}
