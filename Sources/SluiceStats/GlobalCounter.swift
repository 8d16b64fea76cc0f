/// Process-wide monotonic counters that are not tied to a (route, target) pair.
///
/// Each case carries its Prometheus metric name (with the `sluice_` prefix and `_total` suffix) and help text,
/// so the admin module can export all of them with one loop over `allCases`.
public enum GlobalCounter: Int, CaseIterable, Sendable {
    /// Client connections accepted.
    case connectionsAccepted
    /// Client connections closed (for any reason).
    case connectionsClosed
    /// Failed accept() calls (other than EAGAIN).
    case acceptFailures
    /// Requests whose head was parsed successfully.
    case requestsReceived
    /// Requests rejected because the head could not be parsed (400).
    case requestsParsedError
    /// Clients that did not send a complete request head in time (408).
    case headerTimeouts
    /// Keep-alive connections closed after being idle too long.
    case idleTimeouts
    /// Requests rejected because the body exceeded the limit (413).
    case bodyTooLarge
    /// Requests rejected because the head exceeded the limit (431).
    case headersTooLarge
    /// Requests that matched no route (404).
    case noRoute
    /// Requests answered by the proxy itself with an error instead of reaching an upstream (e.g. 502/504).
    case localErrorResponses
    /// Clients that disconnected before the response was complete.
    case clientDisconnects
    /// Upstream connections opened.
    case upstreamConnectionsOpened
    /// Requests sent on a pooled (reused) upstream connection.
    case upstreamConnectionsReused
    /// Failed attempts to connect to an upstream.
    case upstreamConnectFailures
    /// Upstream exchanges that exceeded their timeout.
    case upstreamTimeouts
    /// Upstream connections reset or closed in the middle of an exchange.
    case upstreamResets
    /// Upstream responses that violated HTTP framing.
    case upstreamProtocolErrors
    /// Requests retried on another upstream connection or target.
    case upstreamRetries
    /// Configuration reloads applied.
    case configReloads
    /// Configuration reloads rejected (invalid file).
    case configReloadFailures
    /// Automatic rollbacks performed by the rollback controller.
    case rollbacks
    /// HTTP/2 streams reset or refused because a limit fired (header list, concurrency, reset floods).
    case h2LimitResets
    /// HTTP/2 client connections (prior knowledge or ALPN h2).
    case h2Connections
    /// TLS handshakes with clients (on `tls:` listeners) that failed.
    case tlsHandshakeFailures
    /// Clients that stopped sending their request body for longer than body_idle_timeout (408).
    case bodyTimeouts
    /// Access-log records dropped because the writer fell behind (ring full).
    case accessLogDropped
    /// Endpoints ejected by a worker's passive outlier detection (one per worker and ejection).
    case endpointEjections
    /// Endpoints the active health checks marked unhealthy (healthy → unhealthy transitions).
    case endpointsMarkedUnhealthy
    /// Requests answered 503 `no_healthy_upstream` because every endpoint of the backend was unhealthy.
    case noHealthyUpstream
    /// TLS handshakes with backends that failed (each also counts as an upstream connect failure).
    case upstreamTlsHandshakeFailures
    /// Dry-run rollback verdicts: rollbacks that would have happened (`rollback.dry_run`); traffic did not move.
    case dryRunRollbacks
    /// Progressive steps held because no evaluation since the step had enough requests (once per step).
    case heldSteps
    /// Rollout notifications delivered (a webhook answered 2xx).
    case notificationsSent
    /// Notification delivery attempts that failed (non-2xx, connection error or timeout).
    case notificationFailures
    /// Notifications given up after their last attempt failed (or left undelivered at shutdown).
    case notificationsGivenUp
    /// Notifications dropped because the notifier's queue was full.
    case notificationsDropped
    /// Admin requests refused by the request policy (Host, Origin, CORS preflight, content-type: 403/405/415).
    case adminRequestsRefused
    /// Admin connections answered 503 and closed because every admin connection slot was busy.
    case adminConnectionsRejected
    /// Admin connections closed because their overall deadline passed.
    case adminConnectionTimeouts
    /// Client connections closed right after accept because `limits.max_connections` were open.
    case connectionsRefusedOverLimit
    /// Requests refused with 400 model_not_found: only `match.model` routes could take them and they
    /// named no model Sluice could read.
    case modelNotFound

    /// Prometheus metric name, e.g. `sluice_connections_accepted_total`.
    public var prometheusName: String {
        "sluice_" + Self.snakeCase(String(describing: self)) + "_total"
    }

    /// Prometheus `# HELP` text.
    public var help: String {
        switch self {
        case .connectionsAccepted: return "Client connections accepted."
        case .connectionsClosed: return "Client connections closed."
        case .acceptFailures: return "Failed accept calls."
        case .requestsReceived: return "Client requests whose head was parsed."
        case .requestsParsedError: return "Client requests rejected because the request could not be parsed."
        case .headerTimeouts: return "Clients that did not send a complete request head in time."
        case .idleTimeouts: return "Keep-alive client connections closed for idleness."
        case .bodyTooLarge: return "Requests rejected because the body exceeded the limit."
        case .headersTooLarge: return "Requests rejected because the header section exceeded the limit."
        case .noRoute: return "Requests that matched no route."
        case .localErrorResponses: return "Error responses generated by the proxy itself."
        case .clientDisconnects: return "Clients that disconnected before the response was complete."
        case .upstreamConnectionsOpened: return "Upstream connections opened."
        case .upstreamConnectionsReused: return "Requests sent on a reused upstream connection."
        case .upstreamConnectFailures: return "Failed attempts to connect to an upstream."
        case .upstreamTimeouts: return "Upstream exchanges that timed out."
        case .upstreamResets: return "Upstream connections reset during an exchange."
        case .upstreamProtocolErrors: return "Upstream responses that violated the HTTP protocol."
        case .upstreamRetries: return "Requests retried against an upstream."
        case .configReloads: return "Configuration reloads applied."
        case .configReloadFailures: return "Configuration reloads rejected."
        case .rollbacks: return "Automatic rollbacks performed."
        case .h2LimitResets: return "HTTP/2 streams reset or refused because a limit fired."
        case .h2Connections: return "HTTP/2 client connections accepted."
        case .tlsHandshakeFailures: return "TLS handshakes with clients that failed."
        case .bodyTimeouts: return "Clients that stalled while sending the request body (408)."
        case .accessLogDropped: return "Access-log records dropped because the writer fell behind."
        case .endpointEjections: return "Endpoints ejected by passive outlier detection (per worker)."
        case .endpointsMarkedUnhealthy: return "Endpoints marked unhealthy by active health checks."
        case .noHealthyUpstream: return "Requests failed fast because no endpoint of the backend was healthy."
        case .upstreamTlsHandshakeFailures: return "TLS handshakes with backends that failed (also counted as connect failures)."
        case .dryRunRollbacks: return "Rollbacks a dry-run route would have performed (no traffic moved)."
        case .heldSteps: return "Progressive steps held for lack of evidence (inconclusive evaluations)."
        case .notificationsSent: return "Rollout notifications delivered to a webhook (2xx answer)."
        case .notificationFailures: return "Rollout notification delivery attempts that failed."
        case .notificationsGivenUp: return "Rollout notifications given up after their last failed attempt."
        case .notificationsDropped: return "Rollout notifications dropped because the notifier queue was full."
        case .adminRequestsRefused: return "Admin requests refused by the Host, Origin, preflight or content-type policy."
        case .adminConnectionsRejected: return "Admin connections refused with 503 because every connection slot was busy."
        case .adminConnectionTimeouts: return "Admin connections closed at their overall deadline."
        case .connectionsRefusedOverLimit: return "Client connections closed at accept because limits.max_connections were open."
        case .modelNotFound: return "Requests refused (400) because only match.model routes could take them and no model name was found."
        }
    }

    /// `camelCase` → `snake_case`.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for ch in name {
            if ch.isUppercase {
                out.append("_")
                out.append(contentsOf: ch.lowercased())
            } else {
                out.append(ch)
            }
        }
        return out
    }
}
