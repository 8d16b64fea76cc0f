import SluiceProxy
import SluiceRouting

/// The route-scoped and config endpoints: assign, weights, reload and the state actions.
struct RouteHandlers: Sendable {
    /// The control plane read and changed.
    let control: ControlPlane

    /// `GET /routes/NAME/assign?key=K`: where a sticky user key goes under the current weights.
    func assign(route name: String, request: AdminRequest) -> AdminResponse {
        let table = control.currentSnapshot.table
        guard let r = table.routeIndex(named: name) else { return Self.unknownRoute(name) }
        let route = table.routes[r]
        guard let sticky = route.sticky else {
            return .error(400, "not_sticky", "route \(name) is not sticky")
        }
        guard let key = request.query["key"] else {
            return .error(400, "bad_request", "missing query parameter key")
        }
        let bucket = StickyHash.bucket(salt: sticky.salt, key: Array(key.utf8))
        let target = WeightedSplit.pick(route.targets, draw: bucket)
        return .json(200, .obj([
            "route": .string(name),
            "key": .string(key),
            "bucket": .integer(bucket),
            "target": .string(table.backends[route.targets[target].backend].name),
        ]))
    }

    /// `POST /routes/NAME/weights` with `{"BACKEND": percent, ...}`.
    func setWeights(route name: String, request: AdminRequest) -> AdminResponse {
        let weights: [String: Double]
        switch JSONBody.weights(request.body) {
        case .success(let w): weights = w
        case .failure(let e): return .error(400, "invalid_weights", e.message)
        }
        do {
            try control.setWeights(route: name, weights: weights)
        } catch {
            return Self.controlError(error, code: "invalid_weights")
        }
        let table = control.currentSnapshot.table
        guard let r = table.routeIndex(named: name) else { return Self.unknownRoute(name) }
        var members: [(String, JSONValue)] = [("route", .string(name)), ("weights", Self.weightsObject(table, route: r))]
        if let g = control.fleetGeneration(route: name) { members.append(("generation", .uint(g))) }
        return .json(200, .members(members))
    }

    /// `POST /reload`: re-reads the config file.
    func reload() -> AdminResponse {
        do {
            let version = try control.reload()
            return .json(200, .obj(["config_version": .integer(version)]))
        } catch {
            let details = error.details.isEmpty ? [error.message] : error.details
            return .error(error.status, "invalid_config", error.message,
                          extra: [("errors", .array(details.map { .string($0) }))])
        }
    }

    /// `POST /routes/NAME/{rollback,promote,pause,resume}`.
    func perform(_ action: RouteAction, route name: String, request: AdminRequest,
                 performer: any RouteActionPerformer) -> AdminResponse {
        guard control.currentSnapshot.table.routeIndex(named: name) != nil else { return Self.unknownRoute(name) }
        do {
            let parsed = try RouteActionRequest.parse(action: action, route: name, request: request)
            try performer.perform(parsed)
        } catch {
            return Self.controlError(error, code: "bad_request")
        }
        let runtime = control.routeRuntime[name]
        let table = control.currentSnapshot.table
        let weights = table.routeIndex(named: name).map { Self.weightsObject(table, route: $0) } ?? .null
        var members: [(String, JSONValue)] = [
            ("route", .string(name)),
            ("action", .string(action.rawValue)),
            ("state", .optionalString(runtime?.state)),
            ("reason", .optionalString(runtime?.reason)),
            ("weights", weights),
        ]
        if let g = control.fleetGeneration(route: name) { members.append(("generation", .uint(g))) }
        return .json(200, .members(members))
    }

    /// `{"BACKEND": percent, ...}` in config order.
    static func weightsObject(_ table: RouteTable, route r: Int) -> JSONValue {
        .members(table.routes[r].targets.map { (table.backends[$0.backend].name, .double(Double($0.weight) / 100)) })
    }

    /// 404 for a route name that is not configured.
    static func unknownRoute(_ name: String) -> AdminResponse {
        .error(404, "not_found", "no route named \(name)")
    }

    /// A `ControlError` as an admin error response; `code` names 400s, other statuses get their own code.
    static func controlError(_ error: ControlError, code: String) -> AdminResponse {
        let name: String
        switch error.status {
        case 400: name = code
        case 404: name = "not_found"
        case 409: name = "conflict"
        case 501: name = "not_implemented"
        case 503: name = "fleet_unavailable"
        default: name = "error"
        }
        var extra: [(String, JSONValue)] = []
        if error.details.count > 1 { extra.append(("errors", .array(error.details.map { .string($0) }))) }
        return .error(error.status, name, error.message, extra: extra)
    }
}
