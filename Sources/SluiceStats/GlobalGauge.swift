/// Process-wide gauges (current levels, summed over workers) that are not tied to a (route, target) pair.
///
/// Each worker adjusts its own share up and down; a worker's share may be negative (e.g. a connection
/// accepted on one worker's count but never moved), only the sum over workers is meaningful.
public enum GlobalGauge: Int, CaseIterable, Sendable {
    /// Open client connections.
    case openClientConnections
    /// Requests currently being proxied (head received, response not yet complete).
    case inFlightRequests
    /// Open upstream connections (busy and idle).
    case openUpstreamConnections
    /// Idle upstream connections waiting in the pools.
    case idleUpstreamConnections
    /// Shadow requests currently in flight.
    case inFlightShadowRequests

    /// Prometheus metric name, e.g. `sluice_open_client_connections`.
    public var prometheusName: String {
        "sluice_" + GlobalCounter.snakeCase(String(describing: self))
    }

    /// Prometheus `# HELP` text.
    public var help: String {
        switch self {
        case .openClientConnections: return "Open client connections."
        case .inFlightRequests: return "Requests currently being proxied."
        case .openUpstreamConnections: return "Open upstream connections."
        case .idleUpstreamConnections: return "Idle pooled upstream connections."
        case .inFlightShadowRequests: return "Shadow requests currently in flight."
        }
    }
}
