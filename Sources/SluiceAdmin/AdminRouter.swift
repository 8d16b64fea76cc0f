import Logging
import SluiceProxy
import SluiceStats

/// Maps admin requests to handlers: the request policy (Host, Origin, preflight, content-type), path
/// matching, 404/405, bearer-token check on POSTs.
struct AdminRouter: Sendable {
    /// Every endpoint the admin API knows.
    enum Endpoint: Sendable, Equatable {
        case health, ready, stats, metrics, reload
        /// `GET /`: the dashboard page; `GET /stats/history`: the last ten minutes, one sample a second.
        case dashboard, history
        case assign(route: String)
        case weights(route: String)
        case action(RouteAction, route: String)

        /// The one method the endpoint answers to.
        var method: String {
            switch self {
            case .health, .ready, .stats, .metrics, .assign, .dashboard, .history: return "GET"
            case .reload, .weights, .action: return "POST"
            }
        }
    }

    /// The control plane behind every endpoint.
    let control: ControlPlane
    /// Required on POSTs when set.
    let token: BearerToken?
    /// Refuses browser-driven requests before anything else runs.
    let policy: AdminRequestPolicy
    /// Request log (debug) and failures (warning).
    let logger: Logger
    /// Where state actions go (the control plane, or a test double).
    let actions: any RouteActionPerformer
    /// The per-second history behind `/stats/history` (recorded by the supervisor's tick).
    let history: StatsHistory

    /// Creates a router; `actions` defaults to the control plane itself.
    init(control: ControlPlane, token: BearerToken?, policy: AdminRequestPolicy = AdminRequestPolicy(),
         logger: Logger, actions: (any RouteActionPerformer)? = nil, history: StatsHistory = StatsHistory()) {
        self.control = control
        self.token = token
        self.policy = policy
        self.logger = logger
        self.actions = actions ?? control
        self.history = history
    }

    /// The endpoint a path names, or nil (404).
    static func match(_ segments: [String]) -> Endpoint? {
        switch segments.count {
        case 1:
            switch segments[0] {
            case "": return .dashboard
            case "health": return .health
            case "ready": return .ready
            case "stats": return .stats
            case "metrics": return .metrics
            case "reload": return .reload
            default: return nil
            }
        case 2 where segments[0] == "stats" && segments[1] == "history":
            return .history
        case 3 where segments[0] == "routes" && !segments[1].isEmpty:
            let name = segments[1]
            switch segments[2] {
            case "assign": return .assign(route: name)
            case "weights": return .weights(route: name)
            default: return RouteAction(rawValue: segments[2]).map { .action($0, route: name) }
            }
        default:
            return nil
        }
    }

    /// Answers one request.
    func handle(_ request: AdminRequest) -> AdminResponse {
        let response = route(request)
        if response.status >= 400 {
            logger.info("admin request refused", metadata: [
                "method": "\(request.method)", "path": "\(request.path)", "status": "\(response.status)",
            ])
        } else {
            logger.debug("admin request", metadata: [
                "method": "\(request.method)", "path": "\(request.path)", "status": "\(response.status)",
            ])
        }
        return response
    }

    /// Policy, matching, method and auth checks, then the handler.
    private func route(_ request: AdminRequest) -> AdminResponse {
        let tokenAccepted = token?.accepts(authorization: request.header("authorization")) ?? false
        if case .refuse(let status, let code, let message) = policy.evaluate(request, tokenAccepted: tokenAccepted) {
            control.currentSnapshot.global.incrementShared(.adminRequestsRefused)
            logger.info("admin request refused by policy", metadata: [
                "method": "\(request.method)", "path": "\(request.path)", "status": "\(status)", "reason": "\(message)",
            ])
            var r = AdminResponse.error(status, code, message)
            if status == 405 { r.headers.append((name: "Allow", value: Self.match(request.segments)?.method ?? "GET, POST")) }
            return r
        }
        guard let endpoint = Self.match(request.segments) else {
            return .error(404, "not_found", "no admin endpoint \(request.path)")
        }
        guard request.method == endpoint.method else {
            var r = AdminResponse.error(405, "method_not_allowed", "\(request.path) answers \(endpoint.method) only")
            r.headers.append((name: "Allow", value: endpoint.method))
            return r
        }
        if endpoint.method == "POST", token != nil, !tokenAccepted {
            var r = AdminResponse.error(401, "unauthorized", "POST requests need Authorization: Bearer <admin token>")
            r.headers.append((name: "WWW-Authenticate", value: "Bearer realm=\"sluice-admin\""))
            return r
        }
        let handlers = RouteHandlers(control: control)
        switch endpoint {
        case .health:
            return .text(200, "ok")
        case .ready:
            return control.isReady ? .text(200, "ready") : .text(503, "not ready")
        case .stats:
            return .json(200, StatsReport.build(control: control))
        case .dashboard:
            return DashboardPage.response
        case .history:
            guard let since = UInt64(request.query["since"] ?? "0") else {
                return .error(400, "bad_request", "since must be a sample sequence number (a non-negative integer)")
            }
            return .json(200, history.report(after: since))
        case .metrics:
            return AdminResponse(status: 200, contentType: PrometheusWriter.contentType,
                                 body: MetricsReport.build(control: control))
        case .reload:
            let r = handlers.reload()
            if r.status == 200 {
                logger.notice("config reloaded via admin API")
            } else {
                logger.warning("config reload via admin API rejected")
            }
            return r
        case .assign(let name):
            return handlers.assign(route: name, request: request)
        case .weights(let name):
            let r = handlers.setWeights(route: name, request: request)
            if r.status == 200 { logger.notice("weights set via admin API", metadata: ["route": "\(name)"]) }
            return r
        case .action(let action, let name):
            return handlers.perform(action, route: name, request: request, performer: actions)
        }
    }
}
