import SluiceProxy

/// Operator state changes on one route: `POST /routes/NAME/{rollback,promote,pause,resume,approve}`.
enum RouteAction: String, Sendable, CaseIterable {
    /// Send the candidate's traffic back to the baseline and stop progressing.
    case rollback
    /// Advance the progressive target one step (`?to=100` finishes).
    case promote
    /// Freeze progression where it is.
    case pause
    /// Resume progression after a pause.
    case resume
    /// Let a route waiting at a manual gate take its gated step.
    case approve
}

/// One requested action with its parsed arguments.
struct RouteActionRequest: Sendable {
    /// Which action.
    var action: RouteAction
    /// The route name from the path.
    var route: String
    /// Rollback reason (`?reason=` or body `{"reason": ...}`), defaulted for operators who give none.
    var reason: String
    /// Promote straight to the final step (`?to=100`).
    var toFinal: Bool
}

/// What the admin API needs from the control plane to change a route's state.
///
/// `ControlPlane` conforms below; tests or a future controller may conform too.
protocol RouteActionPerformer: Sendable {
    /// Applies the action or throws the operator-facing reason (404 unknown route, 409 wrong state,
    /// 501 not available yet).
    func perform(_ request: RouteActionRequest) throws(ControlError)
}

extension ControlPlane: RouteActionPerformer {
    /// The ONE place where admin actions reach the control plane.
    func perform(_ request: RouteActionRequest) throws(ControlError) {
        switch request.action {
        case .rollback: try rollback(route: request.route, reason: request.reason)
        case .promote: try promote(route: request.route, toFinal: request.toFinal)
        case .pause: try pause(route: request.route)
        case .resume: try resume(route: request.route)
        case .approve: try approve(route: request.route)
        }
    }
}

extension RouteActionRequest {
    /// Reads the action's arguments from the query string and an optional JSON body `{"reason": ...}`.
    static func parse(action: RouteAction, route: String, request: AdminRequest) throws(ControlError) -> RouteActionRequest {
        var reason = request.query["reason"]
        if reason == nil && !request.body.isEmpty {
            guard let object = JSONBody.object(request.body) else {
                throw ControlError(status: 400, message: "body must be a JSON object such as {\"reason\": \"...\"}")
            }
            if let r = object["reason"] {
                guard let s = r as? String else { throw ControlError(status: 400, message: "reason must be a string") }
                reason = s
            }
        }
        var toFinal = false
        if let to = request.query["to"] {
            guard to == "100" else {
                throw ControlError(status: 400, message: "promote only accepts ?to=100 (finish the rollout)")
            }
            guard action == .promote else {
                throw ControlError(status: 400, message: "?to= only applies to promote")
            }
            toFinal = true
        }
        return RouteActionRequest(action: action, route: route,
                                  reason: reason ?? "operator \(action.rawValue) via admin API", toFinal: toFinal)
    }
}
