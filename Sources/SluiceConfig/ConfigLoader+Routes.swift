import SluiceRouting

/// The `routes:` section: match, targets, baseline, and the per-route features.
extension ConfigLoader {
    static func readRoutes(_ field: Field, _ backends: BackendSet, _ diags: Diagnostics) -> [Route] {
        guard let items = field.items(diags) else { return [] }
        if items.isEmpty { diags.report(field, "at least one route is required") }
        var seen: [String: Int] = [:]
        var routes: [Route] = []
        for item in items {
            if let route = readRoute(item, backends, &seen, diags) { routes.append(route) }
        }
        return routes
    }

    /// One route; `nil` when too broken to compile (its errors are in `diags`).
    static func readRoute(
        _ item: Field, _ backends: BackendSet, _ seen: inout [String: Int], _ diags: Diagnostics
    ) -> Route? {
        guard let m = MappingReader(item, known: [
            "name", "match", "max_request_body", "baseline", "targets", "sticky",
            "override_header", "progressive", "shadow", "rollback", "notify",
        ], diags) else { return nil }
        let nameField = m.required("name", diags)
        let name = nameField?.string(diags)
        if let name, let nameField { checkUnique(name, nameField, &seen, "route", diags) }

        var route = Route(name: name ?? "", targets: [])
        if let mf = m.required("match", diags) { readMatch(mf, into: &route, diags) }
        route.maxRequestBody = m["max_request_body"]?.size(diags)

        // Target names in order, so that later sections can refer to targets by backend name.
        var targetNames: [String] = []
        if let tf = m.required("targets", diags) {
            (route.targets, targetNames) = readTargets(tf, backends, diags)
        }
        if let bf = m["baseline"], let b = bf.string(diags) {
            if let i = targetNames.firstIndex(of: b) {
                route.baseline = i
            } else if !targetNames.isEmpty {
                diags.report(bf, "'\(b)' is not one of the targets (\(targetNames.joined(separator: ", ")))")
            }
        }
        if let sf = m["sticky"] { route.sticky = readSticky(sf, diags) }
        if let of = m["override_header"], let h = headerName(of, diags) { route.overrideHeader = h }
        if let pf = m["progressive"] {
            route.progressive = readProgressive(pf, targetNames: targetNames, baseline: route.baseline, diags)
        }
        if let sf = m["shadow"] {
            route.shadow = readShadow(sf, backends, targetNames: targetNames, sticky: route.sticky, diags)
        }
        if let rf = m["rollback"] { route.rollback = readRollback(rf, diags) }
        return route
    }

    static func readMatch(_ field: Field, into route: inout Route, _ diags: Diagnostics) {
        guard let m = MappingReader(field, known: ["path_prefix", "path_exact", "headers", "model", "model_prefix"], diags) else { return }
        switch (m["model"], m["model_prefix"]) {
        case (.some(let f), .some):
            diags.report(f, "set at most one of model, model_prefix")
        case (let f?, nil):
            if let v = f.string(diags) {
                if v.isEmpty { diags.report(f, "must not be empty") } else { route.model = .exact(Array(v.utf8)) }
            }
        case (nil, let f?):
            if let v = f.string(diags) {
                if v.isEmpty { diags.report(f, "must not be empty") } else { route.model = .prefix(Array(v.utf8)) }
            }
        case (nil, nil):
            break
        }
        let prefix = m["path_prefix"], exact = m["path_exact"]
        switch (prefix, exact) {
        case (nil, nil) where route.model != nil:
            break
        case (nil, nil), (.some, .some):
            diags.report(field, route.model == nil && prefix == nil
                ? "exactly one of path_prefix, path_exact is required (or match on model)"
                : "at most one of path_prefix, path_exact")
        case (let f?, nil), (nil, let f?):
            if let path = f.string(diags) {
                if !path.hasPrefix("/") {
                    diags.report(f, "must start with '/', found '\(path)'")
                } else if prefix != nil {
                    route.pathPrefix = Array(path.utf8)
                } else {
                    route.pathExact = Array(path.utf8)
                }
            }
        }
        guard let hf = m["headers"] else { return }
        guard case .mapping(let pairs) = hf.node else {
            diags.report(hf, "expected a mapping of header name to value, found \(hf.node.kindName)")
            return
        }
        for (key, value) in pairs {
            let keyField = Field(node: key, path: hf.path, line: key.mark?.line ?? hf.line)
            guard let name = headerName(keyField, diags) else { continue }
            let valueField = Field(node: value, path: hf.child(String(decoding: name, as: UTF8.self)), line: keyField.line)
            if let v = valueField.scalar(diags) {
                route.headerMatches.append(HeaderMatch(name: name, value: Array(v.utf8)))
            }
        }
    }

    /// Targets and their backend names; reports unknown backends, duplicates, bad weights, bad sums.
    static func readTargets(
        _ field: Field, _ backends: BackendSet, _ diags: Diagnostics
    ) -> ([Target], [String]) {
        guard let items = field.items(diags) else { return ([], []) }
        if items.isEmpty { diags.report(field, "at least one target is required"); return ([], []) }
        var targets: [Target] = []
        var names: [String] = []
        var allWeights = true
        for item in items {
            guard let m = MappingReader(item, known: ["backend", "weight"], diags) else { allWeights = false; continue }
            let bf = m.required("backend", diags)
            let name = bf?.string(diags)
            var backend = -1
            if let name, let bf {
                if names.contains(name) {
                    diags.report(bf, "backend '\(name)' is already a target of this route")
                } else if let i = backends.index[name] {
                    backend = i
                } else {
                    diags.report(bf, "backend '\(name)' is not defined")
                }
            }
            let weight = m.required("weight", diags)?.percent(diags)
            if weight == nil { allWeights = false }
            targets.append(Target(backend: backend, weight: weight ?? 0))
            names.append(name ?? "")
        }
        let sum = targets.reduce(0) { $0 + $1.weight }
        if allWeights && sum != WeightedSplit.total {
            diags.report(field, "weights sum to \(Percent.format(basisPoints: sum)), must be 100")
        }
        return (targets, names)
    }

    /// A lowercased HTTP header name (RFC 9110 token), or `nil` with an error.
    static func headerName(_ field: Field, _ diags: Diagnostics) -> [UInt8]? {
        guard let text = field.string(diags) else { return nil }
        let tchar: Set<Character> = ["!", "#", "$", "%", "&", "'", "*", "+", "-", ".", "^", "_", "`", "|", "~"]
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || tchar.contains($0)) }) else {
            diags.report(field, "'\(text)' is not a valid header name")
            return nil
        }
        return Array(text.lowercased().utf8)
    }
}
