/// Per-request routing: match a route, then pick its target.
///
/// A pure function of (table, request, random source): no I/O, no locks, no
/// allocation, no existentials. Random draws are `Int(rng.next() % 10000)`:
/// at most one for the split, then one for the shadow when the route has one.
public enum Router {
    /// Routes `request`, or returns `nil` when no route matches (404).
    ///
    /// Routes match in config order and the first match wins. `pathPrefix` is a
    /// raw byte prefix, as in Envoy: `/v1/model` also matches `/v1/models/x`;
    /// end a prefix with `/` to match on a segment boundary.
    /// The target is chosen in this order:
    /// 1. the override header, when present and equal to a target's backend name
    ///    (any target, weight 0 included; other values are ignored);
    /// 2. sticky routes: the key's bucket; without a key, the baseline, or a
    ///    random draw when `onMissingRandom` or when the baseline's weight is 0;
    /// 3. otherwise a weighted random draw.
    /// Always inlined into the proxy's request path (one call site per protocol); measured with
    /// scripts/instructions.
    @inlinable @inline(__always)
    public static func decide<R: RequestAttributes, G: RandomNumberGenerator>(
        _ table: RouteTable, _ request: R, rng: inout G
    ) -> Decision? {
        // Through a buffer pointer: routes are borrowed in place, never copied (a Route copy
        // retains and releases each of its arrays).
        let found: Int? = table.routes.withUnsafeBufferPointer { routes in
            for index in routes.indices where matches(routes[index], request) { return index }
            return nil
        }
        guard let found else { return nil }
        return decide(table, routeIndex: found, request, rng: &rng)
    }

    /// Picks the target of route `routeIndex` for `request`, skipping matching
    /// (for callers that already know the route).
    @inlinable @inline(__always)
    public static func decide<R: RequestAttributes, G: RandomNumberGenerator>(
        _ table: RouteTable, routeIndex: Int, _ request: R, rng: inout G
    ) -> Decision {
        table.routes.withUnsafeBufferPointer {
            pick(table, $0.baseAddress! + routeIndex, routeIndex: routeIndex, request, rng: &rng)
        }
    }

    /// The body of `decide(_:routeIndex:_:rng:)`. The route is read through a pointer, one
    /// field at a time: passing the `Route` itself (even `borrowing`) made a copy per request,
    /// retaining and releasing each of its arrays and strings.
    @inlinable @inline(__always)
    static func pick<R: RequestAttributes, G: RandomNumberGenerator>(
        _ table: RouteTable, _ route: UnsafePointer<Route>, routeIndex: Int, _ request: R, rng: inout G
    ) -> Decision {
        var target = -1
        var reason = DecisionReason.weighted

        if let name = route.pointee.overrideHeader, let value = request.header(name) {
            for i in route.pointee.targets.indices
            where AttributeScan.equals(value, table.backends[route.pointee.targets[i].backend].name) {
                target = i
                reason = .override
                break
            }
        }
        if target < 0, let sticky = route.pointee.sticky {
            if let key = stickyKey(sticky.source, request) {
                target = WeightedSplit.pick(route.pointee.targets, draw: StickyHash.bucket(salt: sticky.salt, key: key))
                reason = .sticky
            } else {
                reason = .stickyMissing
                if !sticky.onMissingRandom && route.pointee.targets[route.pointee.baseline].weight > 0 {
                    target = route.pointee.baseline
                }
            }
        }
        if target < 0 {
            target = WeightedSplit.pick(route.pointee.targets, draw: WeightedSplit.draw(&rng))
        }

        var shadow = false
        // Tested through one stored field: comparing the whole `ShadowSpec?` with nil copied it
        // (an outlined copy and destroy per request, measured with scripts/instructions).
        if route.pointee.shadow?.percentBasisPoints != nil {
            shadow = shadowSelects(route, request, rng: &rng)
        }
        return Decision(
            route: routeIndex, target: target, backend: route.pointee.targets[target].backend,
            reason: reason, shadow: shadow)
    }

    /// Whether `route`'s match (path, headers and model) accepts `request`.
    @inlinable
    public static func matches<R: RequestAttributes>(_ route: borrowing Route, _ request: R) -> Bool {
        guard matchesHead(route, request) else { return false }
        if let m = route.model {
            guard let name = request.model, m.accepts(name) else { return false }
        }
        return true
    }

    /// Whether the first route whose path and headers accept `request` is one that also needs its
    /// model (`match.model`): only then does finding the model (perhaps in the body) matter. A route
    /// without a model match that comes first takes the request whatever its model.
    public static func needsModel<R: RequestAttributes>(_ table: RouteTable, _ request: R) -> Bool {
        guard table.usesModel else { return false }
        // By index: `for route in` would copy each Route (retaining its arrays) on every request.
        for i in table.routes.indices where matchesHead(table.routes[i], request) {
            return table.routes[i].model != nil
        }
        return false
    }

    /// Whether `route`'s path and header match accept `request` (the model aside).
    @inlinable
    public static func matchesHead<R: RequestAttributes>(_ route: borrowing Route, _ request: R) -> Bool {
        let path = request.path
        if let exact = route.pathExact {
            if !AttributeScan.equals(path, exact) { return false }
        } else if let prefix = route.pathPrefix {
            if !AttributeScan.hasPrefix(path, prefix) { return false }
        }
        for m in route.headerMatches {
            guard let value = request.header(m.name), AttributeScan.equals(value, m.value) else {
                return false
            }
        }
        return true
    }

    /// Whether this request is mirrored: it passes `shadow.match`, then its draw (random, or the
    /// shadow bucket of its sticky key for `sample_by: sticky`; no key, no copy) is under the percentage.
    /// Never inlined: only routes with a shadow call it, and inlined it made `pick` too large to be
    /// inlined into the proxy's request path (measured with scripts/instructions).
    @inlinable @inline(never)
    static func shadowSelects<R: RequestAttributes, G: RandomNumberGenerator>(
        _ route: UnsafePointer<Route>, _ request: R, rng: inout G
    ) -> Bool {
        guard let spec = route.pointee.shadow else { return false }
        if !spec.matchMethods.isEmpty {
            guard let method = request.method, spec.matchMethods.contains(where: { AttributeScan.equals(method, $0) }) else {
                return false
            }
        }
        if !spec.matchPathPrefixes.isEmpty || !spec.matchPathSuffixes.isEmpty {
            let path = request.path
            let byPrefix = spec.matchPathPrefixes.contains { AttributeScan.hasPrefix(path, $0) }
            let bySuffix = spec.matchPathSuffixes.contains { AttributeScan.hasSuffix(path, $0) }
            if !byPrefix && !bySuffix { return false }
        }
        if let salt = spec.stickySalt {
            guard let sticky = route.pointee.sticky, let key = stickyKey(sticky.source, request) else { return false }
            return StickyHash.bucket(salt: salt, key: key) < spec.percentBasisPoints
        }
        return WeightedSplit.draw(&rng) < spec.percentBasisPoints
    }

    /// The sticky key bytes, or `nil` when the request has none (an empty value counts as none).
    @inlinable
    static func stickyKey<R: RequestAttributes>(
        _ source: StickySource, _ request: R
    ) -> UnsafeRawBufferPointer? {
        let key: UnsafeRawBufferPointer?
        switch source {
        case .header(let name): key = request.header(name)
        case .cookie(let name): key = request.cookie(name)
        case .query(let name): key = request.query(name)
        }
        guard let key, !key.isEmpty else { return nil }
        return key
    }
}
