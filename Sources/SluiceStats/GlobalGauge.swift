/// Process-wide gauges (current levels, summed over workers) that are not tied to a (route, target) pair.
///
/// Each worker adjusts its own share up and down; a worker's share may be negative (e.g. a connection
/// accepted on one worker's count but never moved), only the sum over workers is meaningful.
public enum GlobalGauge: Int, CaseIterable, Sendable {
    /// Open client connections.
    case openClientConnections
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
        case .inFlightShadowRequests: return "Shadow requests currently in flight."
        }
    }
}
