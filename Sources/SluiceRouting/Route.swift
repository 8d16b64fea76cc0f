/// One route: which requests it takes, and how it splits them among targets.
public struct Route: Sendable, Hashable {
    /// Unique name, used by the admin API and stats.
    public var name: String
    /// Raw byte prefix the path must start with (Envoy semantics: `/v1/model`
    /// also matches `/v1/models`); set exactly one of this and ``pathExact``.
    public var pathPrefix: [UInt8]?
    /// The exact path required (query string excluded).
    public var pathExact: [UInt8]?
    /// Headers that must all be present with exactly these values.
    public var headerMatches: [HeaderMatch]
    /// The model the request must name (`match.model` / `match.model_prefix`), or `nil`.
    public var model: ModelMatch?
    /// Per-route request body limit, overriding the global one.
    public var maxRequestBody: UInt64?
    /// Index into ``targets`` of the baseline: where rollback and key-less sticky requests go.
    public var baseline: Int
    /// The split, in config order; weights sum to 10000 basis points.
    public var targets: [Target]
    /// Sticky assignment, or `nil` for an independent draw per request.
    public var sticky: StickySpec?
    /// Lowercased name of the header that can force a target by backend name.
    public var overrideHeader: [UInt8]?
    /// Progressive rollout of one target.
    public var progressive: ProgressiveSpec?
    /// Shadow mirroring.
    public var shadow: ShadowSpec?
    /// Automatic rollback thresholds.
    public var rollback: RollbackSpec?

    /// Creates a route.
    public init(
        name: String,
        pathPrefix: [UInt8]? = nil,
        pathExact: [UInt8]? = nil,
        headerMatches: [HeaderMatch] = [],
        model: ModelMatch? = nil,
        maxRequestBody: UInt64? = nil,
        baseline: Int = 0,
        targets: [Target],
        sticky: StickySpec? = nil,
        overrideHeader: [UInt8]? = nil,
        progressive: ProgressiveSpec? = nil,
        shadow: ShadowSpec? = nil,
        rollback: RollbackSpec? = nil
    ) {
        self.name = name
        self.pathPrefix = pathPrefix
        self.pathExact = pathExact
        self.headerMatches = headerMatches
        self.model = model
        self.maxRequestBody = maxRequestBody
        self.baseline = baseline
        self.targets = targets
        self.sticky = sticky
        self.overrideHeader = overrideHeader
        self.progressive = progressive
        self.shadow = shadow
        self.rollback = rollback
    }

    /// Whether `weights` can replace this route's weights: one per target,
    /// each in 0...10000 basis points, summing to exactly 10000.
    public func acceptsWeights(_ weights: [Int]) -> Bool {
        guard weights.count == targets.count else { return false }
        var sum = 0
        for w in weights {
            guard (0...WeightedSplit.total).contains(w) else { return false }
            sum += w
        }
        return sum == WeightedSplit.total
    }
}

/// The immutable routing snapshot every worker reads.
///
/// The controller never mutates a table: it publishes a new one
/// (``withWeights(route:weights:)``) and workers pick it up at their next request.
public final class RouteTable: Sendable {
    /// All backends; targets and shadows refer to them by index.
    public let backends: [Backend]
    /// Routes in config order; the first match wins.
    public let routes: [Route]
    /// Some route matches on the model name: requests may need their model found before routing.
    public let usesModel: Bool

    /// Creates a table. The references between routes and backends must be valid
    /// (SluiceConfig guarantees this for tables it compiles).
    public init(backends: [Backend], routes: [Route]) {
        self.backends = backends
        self.routes = routes
        usesModel = routes.contains { $0.model != nil }
    }

    /// A copy of this table where route `route` has the given weights (basis points,
    /// one per target in order). Traps unless `routes[route].acceptsWeights(weights)`:
    /// callers validate operator input first.
    public func withWeights(route: Int, weights: [Int]) -> RouteTable {
        precondition(routes.indices.contains(route), "route index out of range")
        precondition(routes[route].acceptsWeights(weights), "invalid weights for route")
        var newRoutes = routes
        for i in weights.indices {
            newRoutes[route].targets[i].weight = weights[i]
        }
        return RouteTable(backends: backends, routes: newRoutes)
    }

    /// Index of the route with this name.
    public func routeIndex(named name: String) -> Int? {
        routes.firstIndex { $0.name == name }
    }

    /// Index of the backend with this name.
    public func backendIndex(named name: String) -> Int? {
        backends.firstIndex { $0.name == name }
    }

    /// Current weights of route `route`, in basis points, one per target.
    public func weights(route: Int) -> [Int] {
        routes[route].targets.map(\.weight)
    }
}
