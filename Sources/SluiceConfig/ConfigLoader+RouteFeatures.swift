import SluiceRouting

/// Per-route features: sticky assignment, progressive rollout, shadow, rollback.
extension ConfigLoader {
    static func readSticky(_ field: Field, _ diags: Diagnostics) -> StickySpec? {
        guard let m = MappingReader(field, known: ["header", "cookie", "query", "salt", "on_missing"], diags) else {
            return nil
        }
        var source: StickySource?
        let given = ["header", "cookie", "query"].filter { m[$0] != nil }
        if given.count != 1 {
            diags.report(field, "exactly one of header, cookie, query is required")
        } else if let hf = m["header"] {
            source = headerName(hf, diags).map(StickySource.header)
        } else if let cf = m["cookie"] {
            source = cf.string(diags).map { .cookie(Array($0.utf8)) }
        } else if let qf = m["query"] {
            source = qf.string(diags).map { .query(Array($0.utf8)) }
        }
        let salt = m.required("salt", diags)?.string(diags)
        var random = false
        if let of = m["on_missing"], let v = of.scalar(diags) {
            switch v {
            case "baseline": random = false
            case "random": random = true
            default: diags.report(of, "must be baseline or random, found '\(v)'")
            }
        }
        guard let source, let salt else { return nil }
        return StickySpec(source: source, salt: Array(salt.utf8), onMissingRandom: random)
    }

    static func readProgressive(
        _ field: Field, targetNames: [String], baseline: Int, _ diags: Diagnostics
    ) -> ProgressiveSpec? {
        guard let m = MappingReader(field, known: ["target", "steps", "interval", "gates", "require_evidence"], diags) else { return nil }
        var target: Int?
        if let tf = m.required("target", diags), let name = tf.string(diags) {
            if let i = targetNames.firstIndex(of: name) {
                if i == baseline {
                    diags.report(tf, "'\(name)' is the baseline; progressive needs another target")
                } else {
                    target = i
                }
            } else {
                diags.report(tf, "'\(name)' is not one of the targets")
            }
        }
        var steps: [Int] = []
        if let sf = m.required("steps", diags), let items = sf.items(diags) {
            if items.isEmpty { diags.report(sf, "at least one step is required") }
            for item in items {
                guard let step = item.percent(diags) else { continue }
                if step == 0 {
                    diags.report(item, "steps must be greater than 0")
                } else if let last = steps.last, step <= last {
                    diags.report(item, "steps must be strictly increasing (\(Percent.format(basisPoints: step)) after \(Percent.format(basisPoints: last)))")
                }
                steps.append(step)
            }
        }
        let interval = m.required("interval", diags)?.duration(diags)
        var gates: [Int] = []
        if let gf = m["gates"], let items = gf.items(diags) {
            for item in items {
                guard let gm = MappingReader(item, known: ["at", "approval"], diags) else { continue }
                if let af = gm.required("approval", diags), let a = af.scalar(diags), a != "manual" {
                    diags.report(af, "must be manual, found '\(a)'")
                }
                guard let atf = gm.required("at", diags), let at = atf.percent(diags) else { continue }
                if !steps.contains(at) {
                    diags.report(atf, "\(Percent.format(basisPoints: at)) is not one of the steps")
                } else if gates.contains(at) {
                    diags.report(atf, "a gate at \(Percent.format(basisPoints: at)) is already defined")
                } else {
                    gates.append(at)
                }
            }
        }
        let requireEvidence = m["require_evidence"]?.bool(diags) ?? true
        guard let target, let interval, !steps.isEmpty else { return nil }
        return ProgressiveSpec(target: target, steps: steps, intervalNanos: interval, gates: gates, requireEvidence: requireEvidence)
    }

    static func readShadow(
        _ field: Field, _ backends: BackendSet, targetNames: [String], sticky: StickySpec? = nil, _ diags: Diagnostics
    ) -> ShadowSpec? {
        guard let m = MappingReader(field, known: [
            "backend", "percent", "max_in_flight", "max_body_bytes", "compare", "match", "sample_by",
        ], diags) else { return nil }
        var backend: Int?
        if let bf = m.required("backend", diags), let name = bf.string(diags) {
            if targetNames.contains(name) {
                diags.report(bf, "'\(name)' is a target of this route; a shadow must be another backend")
            } else if let i = backends.index[name] {
                backend = i
            } else {
                diags.report(bf, "backend '\(name)' is not defined")
            }
        }
        var spec = ShadowSpec(backend: backend ?? -1, percentBasisPoints: WeightedSplit.total)
        if let v = m["percent"]?.percent(diags) { spec.percentBasisPoints = v }
        if let v = m["max_in_flight"]?.int(diags, 1...1_000_000) { spec.maxInFlight = v }
        if let f = m["max_body_bytes"], let v = f.size(diags) {
            if v > UInt64(Int32.max) { diags.report(f, "must be at most 2GiB") } else { spec.maxBodyBytes = Int(v) }
        }
        if let mf = m["match"] { readShadowMatch(mf, into: &spec, diags) }
        if let sf = m["sample_by"], let how = sf.string(diags) {
            switch how {
            case "random": break
            case "sticky":
                if let sticky {
                    spec.stickySalt = sticky.salt + Array("/shadow".utf8)
                } else {
                    diags.report(sf, "sample_by: sticky needs the route's sticky key (add a sticky section)")
                }
            default:
                diags.report(sf, "expected random or sticky, found '\(how)'")
            }
        }
        if let cf = m["compare"], case .sequence = cf.node {
            spec.fields = readCompareFields(cf, diags)
        } else if let cf = m["compare"], let cm = MappingReader(cf, known: ["json_pointer", "tolerance"], diags) {
            let pf = cm.required("json_pointer", diags)
            let pointer = pf?.string(diags)
            if let pointer, let pf, !pointer.hasPrefix("/") {
                diags.report(pf, "must start with '/' (an RFC 6901 JSON pointer), found '\(pointer)'")
            }
            let tolerance = cm["tolerance"].map { $0.double(diags, 0...Double.greatestFiniteMagnitude) } ?? 0
            if let pointer, let tolerance { spec.compare = ShadowCompare(jsonPointer: pointer, tolerance: tolerance) }
        }
        return backend == nil ? nil : spec
    }

    /// `shadow.match`: `methods` and `path_prefixes` / `path_suffixes` (lists); only matching requests are mirrored.
    static func readShadowMatch(_ field: Field, into spec: inout ShadowSpec, _ diags: Diagnostics) {
        guard let m = MappingReader(field, known: ["methods", "path_prefixes", "path_suffixes"], diags) else { return }
        if let f = m["methods"], let items = f.items(diags) {
            for item in items {
                guard let v = item.string(diags) else { continue }
                if v.isEmpty || !v.allSatisfy({ $0.isASCII && $0.isUppercase }) {
                    diags.report(item, "'\(v)' is not an HTTP method (upper case, e.g. POST)")
                } else {
                    spec.matchMethods.append(Array(v.utf8))
                }
            }
        }
        if let f = m["path_prefixes"], let items = f.items(diags) {
            for item in items {
                guard let v = item.string(diags) else { continue }
                if v.hasPrefix("/") { spec.matchPathPrefixes.append(Array(v.utf8)) } else { diags.report(item, "must start with '/', found '\(v)'") }
            }
        }
        if let f = m["path_suffixes"], let items = f.items(diags) {
            for item in items {
                guard let v = item.string(diags) else { continue }
                if v.isEmpty { diags.report(item, "must not be empty") } else { spec.matchPathSuffixes.append(Array(v.utf8)) }
            }
        }
        if spec.matchMethods.isEmpty && spec.matchPathPrefixes.isEmpty && spec.matchPathSuffixes.isEmpty {
            diags.report(field, "set at least one of methods, path_prefixes, path_suffixes")
        }
    }

    /// `shadow.compare` as a list of `{pointer, kind, tolerance}`.
    static func readCompareFields(_ field: Field, _ diags: Diagnostics) -> [CompareField] {
        guard let items = field.items(diags) else { return [] }
        if items.isEmpty { diags.report(field, "at least one field is required") }
        var fields: [CompareField] = []
        for item in items {
            guard let m = MappingReader(item, known: ["pointer", "kind", "tolerance"], diags) else { continue }
            let pf = m.required("pointer", diags)
            let pointer = pf?.string(diags)
            if let pointer, let pf, !pointer.hasPrefix("/") {
                diags.report(pf, "must start with '/' (an RFC 6901 JSON pointer), found '\(pointer)'")
                continue
            }
            var kind: CompareField.Kind?
            if let kf = m.required("kind", diags), let k = kf.string(diags) {
                kind = CompareField.Kind(rawValue: k)
                if kind == nil { diags.report(kf, "expected label, number or array, found '\(k)'") }
            }
            var tolerance = 0.0
            if let tf = m["tolerance"] {
                if kind != .number { diags.report(tf, "tolerance applies to kind: number only") }
                tolerance = tf.double(diags, 0...Double.greatestFiniteMagnitude) ?? 0
            }
            if let pointer, let kind {
                if fields.contains(where: { $0.pointerText == pointer }), let pf {
                    diags.report(pf, "'\(pointer)' is already compared")
                } else if let f = CompareField(pointer: pointer, kind: kind, tolerance: tolerance) {
                    fields.append(f)
                }
            }
        }
        return fields
    }

    static func readRollback(_ field: Field, _ diags: Diagnostics) -> RollbackSpec? {
        guard let m = MappingReader(field, known: [
            "window", "evaluate_every", "min_requests", "max_p99_latency", "max_error_rate",
            "breaches_to_trip", "relative_to_baseline", "dry_run",
        ], diags) else { return nil }
        var spec = RollbackSpec()
        if let wf = m["window"], let v = wf.duration(diags) {
            if v % 1_000_000_000 != 0 {
                diags.report(wf, "must be a whole number of seconds")
            } else {
                spec.windowSeconds = Int(v / 1_000_000_000)
            }
        }
        if let v = m["evaluate_every"]?.duration(diags) { spec.evaluateEveryNanos = v }
        if let v = m["min_requests"]?.int(diags, 1...Int.max) { spec.minRequests = v }
        if let pf = m["max_p99_latency"], let v = pf.duration(diags) {
            if v < 1_000 { diags.report(pf, "must be at least 1us") } else { spec.maxP99Micros = v / 1_000 }
        }
        if let ef = m["max_error_rate"] { spec.maxErrorRate = ef.double(diags, 0...1) }
        if let v = m["breaches_to_trip"]?.int(diags, 1...10_000) { spec.breachesToTrip = v }
        if let v = m["dry_run"]?.bool(diags) { spec.dryRun = v }
        if let rf = m["relative_to_baseline"] { spec.relativeToBaseline = readRelative(rf, diags) }
        if m["max_p99_latency"] == nil && m["max_error_rate"] == nil && m["relative_to_baseline"] == nil {
            diags.report(field, "at least one of max_p99_latency, max_error_rate, relative_to_baseline is required")
        }
        return spec
    }

    static func readRelative(_ field: Field, _ diags: Diagnostics) -> RelativeThresholds? {
        guard let m = MappingReader(field, known: [
            "method", "p99_ratio", "error_rate_delta", "alpha", "max_error_ratio", "latency_threshold", "max_slow_ratio",
        ], diags) else { return nil }
        var relative = RelativeThresholds()
        if let mf = m["method"], let v = mf.scalar(diags) {
            if let method = RelativeMethod(rawValue: v) {
                relative.method = method
            } else {
                diags.report(mf, "must be z_test or sequential, found '\(v)'")
            }
        }
        let zTestKeys = ["p99_ratio", "error_rate_delta"]
        let sequentialKeys = ["alpha", "max_error_ratio", "latency_threshold", "max_slow_ratio"]
        switch relative.method {
        case .zTest:
            for key in sequentialKeys { if let f = m[key] { diags.report(f, "applies to method: sequential only") } }
            relative.p99Ratio = m["p99_ratio"]?.positiveDouble(diags)
            relative.errorRateDelta = m["error_rate_delta"]?.double(diags, 0...1)
            if m["p99_ratio"] == nil && m["error_rate_delta"] == nil {
                diags.report(field, "at least one of p99_ratio, error_rate_delta is required")
            }
        case .sequential:
            for key in zTestKeys {
                if let f = m[key] { diags.report(f, "applies to method: z_test only (sequential uses max_error_ratio, latency_threshold, max_slow_ratio)") }
            }
            if let v = m["alpha"]?.double(diags, 0.0001...0.5) { relative.alpha = v }
            if let f = m["max_error_ratio"], let v = f.double(diags, 1...1000) { relative.maxErrorRatio = v }
            if let f = m["max_slow_ratio"], let v = f.double(diags, 1...1000) { relative.maxSlowRatio = v }
            if let f = m["latency_threshold"], let v = f.scalar(diags) {
                if v.hasPrefix("p"), let q = Double(v.dropFirst()) {
                    if q >= 50 && q <= 99.9 {
                        relative.latencyThreshold = .baselineQuantile(q / 100)
                    } else {
                        diags.report(f, "a baseline percentile must be p50 ... p99.9, found '\(v)'")
                    }
                } else if let d = f.duration(diags) {
                    if d < 1_000 { diags.report(f, "must be at least 1us") } else { relative.latencyThreshold = .micros(d / 1_000) }
                }
            }
        }
        return relative
    }
}
