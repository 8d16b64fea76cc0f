/// One arm of a route's split: a backend and its share of traffic.
public struct Target: Sendable, Hashable {
    /// Index into ``RouteTable/backends``.
    public var backend: Int
    /// Share of traffic in basis points (percent × 100): 0...10000.
    ///
    /// Target `i` owns the bucket range `[sum of weights before i, that + weight)`,
    /// so the weighted draw and the sticky bucket use the same mapping.
    public var weight: Int

    /// Creates a target.
    public init(backend: Int, weight: Int) {
        self.backend = backend
        self.weight = weight
    }
}

/// Where a sticky route finds the user key.
public enum StickySource: Sendable, Hashable {
    /// A request header; the name is stored lowercased.
    case header([UInt8])
    /// A cookie of the `cookie` header, by exact name.
    case cookie([UInt8])
    /// A query-string parameter, by exact (not percent-decoded) name.
    case query([UInt8])
}

/// Sticky assignment: one user key always lands in the same bucket.
public struct StickySpec: Sendable, Hashable {
    /// Where the key comes from.
    public var source: StickySource
    /// The experiment's salt; a new salt reshuffles every user.
    public var salt: [UInt8]
    /// Without a key: `true` draws at random, `false` sends the request to the baseline.
    public var onMissingRandom: Bool

    /// Creates a sticky spec.
    public init(source: StickySource, salt: [UInt8], onMissingRandom: Bool = false) {
        self.source = source
        self.salt = salt
        self.onMissingRandom = onMissingRandom
    }
}

/// One header a route requires: exact, case-sensitive value match.
public struct HeaderMatch: Sendable, Hashable {
    /// Lowercased header name.
    public var name: [UInt8]
    /// The exact value required.
    public var value: [UInt8]

    /// Creates a header match; `name` must already be lowercased.
    public init(name: [UInt8], value: [UInt8]) {
        self.name = name
        self.value = value
    }
}

/// Why a ``Decision`` chose its target.
public enum DecisionReason: Sendable, Hashable {
    /// A weighted random draw.
    case weighted
    /// The bucket of the request's sticky key.
    case sticky
    /// A sticky route without a key: the baseline, or a random draw when so configured
    /// (or when the baseline has weight 0, so that a weight-0 target is never chosen).
    case stickyMissing
    /// The override header named this target's backend.
    case override
}

/// The outcome of routing one request.
public struct Decision: Sendable, Hashable {
    /// Index into ``RouteTable/routes``.
    public var route: Int
    /// Index into that route's ``Route/targets``.
    public var target: Int
    /// Index into ``RouteTable/backends`` (the target's backend).
    public var backend: Int
    /// Why this target.
    public var reason: DecisionReason
    /// Whether a copy of the request also goes to the route's shadow backend.
    public var shadow: Bool

    /// Creates a decision.
    public init(route: Int, target: Int, backend: Int, reason: DecisionReason, shadow: Bool) {
        self.route = route
        self.target = target
        self.backend = backend
        self.reason = reason
        self.shadow = shadow
    }
}
