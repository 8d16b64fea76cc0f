import Testing
import SluiceRouting

struct RouterTests {
    static let backends = makeBackends(4)

    static func split(_ w0: Int, _ w1: Int) -> [Target] {
        [Target(backend: 0, weight: w0), Target(backend: 1, weight: w1)]
    }

    @Test func firstMatchingRouteWinsInConfigOrder() {
        let table = RouteTable(backends: Self.backends, routes: [
            Route(name: "exact", pathExact: "/v1/models/a".bytes, targets: [Target(backend: 2, weight: 10_000)]),
            Route(name: "gpu", pathPrefix: "/v1/".bytes,
                  headerMatches: [HeaderMatch(name: "x-tier".bytes, value: "gpu".bytes)],
                  targets: [Target(backend: 3, weight: 10_000)]),
            Route(name: "models", pathPrefix: "/v1/models".bytes, targets: Self.split(10_000, 0)),
            Route(name: "catch-all", pathPrefix: "/".bytes, targets: Self.split(0, 10_000)),
        ])
        var rng = SplitMix64(seed: 1)
        func route(_ target: String, _ headers: [(String, String)] = []) -> String? {
            Router.decide(table, TestRequest(target, headers: headers), rng: &rng).map { table.routes[$0.route].name }
        }
        #expect(route("/v1/models/a") == "exact")
        #expect(route("/v1/models/a?x=1") == "exact")           // query not part of the path
        #expect(route("/v1/models/ab") == "models")             // exact is exact
        #expect(route("/v1/modelsX") == "models")               // raw prefix, like Envoy
        #expect(route("/v1/models/b", [("x-tier", "gpu")]) == "gpu")
        #expect(route("/v1/models/b", [("x-tier", "GPU")]) == "models")  // values are case-sensitive
        #expect(route("/healthz") == "catch-all")
        let empty = RouteTable(backends: Self.backends, routes: [Route(name: "v1", pathPrefix: "/v1".bytes, targets: Self.split(10_000, 0))])
        #expect(Router.decide(empty, TestRequest("/v2/x"), rng: &rng) == nil)
    }

    @Test func weightedDecisionCarriesBackendAndReason() {
        let table = RouteTable(backends: Self.backends, routes: [
            Route(name: "r", pathPrefix: "/".bytes, targets: [Target(backend: 3, weight: 0), Target(backend: 2, weight: 10_000)]),
        ])
        var rng = SplitMix64(seed: 9)
        for _ in 0..<1000 {
            let d = Router.decide(table, TestRequest("/p"), rng: &rng)
            #expect(d == Decision(route: 0, target: 1, backend: 2, reason: .weighted, shadow: false))
        }
    }

    @Test func overrideHeaderNamesATargetBackend() {
        let table = RouteTable(backends: Self.backends, routes: [
            Route(name: "r", pathPrefix: "/".bytes, targets: Self.split(10_000, 0), overrideHeader: "x-sluice-target".bytes),
        ])
        var rng = SplitMix64(seed: 3)
        let forced = Router.decide(table, TestRequest("/", headers: [("x-sluice-target", "b1")]), rng: &rng)
        #expect(forced == Decision(route: 0, target: 1, backend: 1, reason: .override, shadow: false))
        // Names that are not targets of this route (b2 exists but is not a target) are ignored.
        for name in ["b2", "nope", "", "B1"] {
            let d = Router.decide(table, TestRequest("/", headers: [("x-sluice-target", name)]), rng: &rng)
            #expect(d?.target == 0)
            #expect(d?.reason == .weighted)
        }
    }

    static func stickyTable(source: StickySource, onMissingRandom: Bool, weights: (Int, Int) = (5000, 5000)) -> RouteTable {
        RouteTable(backends: backends, routes: [
            Route(name: "ab", pathPrefix: "/".bytes, baseline: 0, targets: split(weights.0, weights.1),
                  sticky: StickySpec(source: source, salt: "exp-1".bytes, onMissingRandom: onMissingRandom)),
        ])
    }

    @Test(arguments: [
        (StickySource.header("x-user-id".bytes), "/p", [("x-user-id", "alice")]),
        (StickySource.cookie("uid".bytes), "/p", [("cookie", "theme=dark; uid=alice; x=1")]),
        (StickySource.query("user".bytes), "/p?a=1&user=alice&b", [(String, String)]()),
    ])
    func stickyKeyFromEachSource(source: StickySource, target: String, headers: [(String, String)]) {
        let table = Self.stickyTable(source: source, onMissingRandom: false)
        // bucket("exp-1", "alice") = 5841 (pinned): the second half of a 50/50.
        var rng = SplitMix64(seed: 0)
        for _ in 0..<50 {
            let d = Router.decide(table, TestRequest(target, headers: headers), rng: &rng)
            #expect(d == Decision(route: 0, target: 1, backend: 1, reason: .sticky, shadow: false))
        }
        // bob = 2415: first half.
        let bob = headers.map { ($0.0, $0.1.replacingAll("alice", "bob")) }
        let d = Router.decide(table, TestRequest(target.replacingAll("alice", "bob"), headers: bob), rng: &rng)
        #expect(d?.target == 0)
    }

    @Test func missingKeyGoesToBaseline() {
        let table = Self.stickyTable(source: .header("x-user-id".bytes), onMissingRandom: false)
        var rng = SplitMix64(seed: 5)
        for request in [TestRequest("/"), TestRequest("/", headers: [("x-user-id", "")])] {
            let d = Router.decide(table, request, rng: &rng)
            #expect(d == Decision(route: 0, target: 0, backend: 0, reason: .stickyMissing, shadow: false))
        }
    }

    @Test func missingKeyDrawsWhenRandomOrBaselineIsOff() {
        var rng = SplitMix64(seed: 6)
        let random = Self.stickyTable(source: .header("x-user-id".bytes), onMissingRandom: true)
        var seen = Set<Int>()
        for _ in 0..<200 {
            let d = Router.decide(random, TestRequest("/"), rng: &rng)
            #expect(d?.reason == .stickyMissing)
            seen.insert(d!.target)
        }
        #expect(seen == [0, 1])
        // Blue-green flipped: the baseline has weight 0, so it must not be chosen.
        let flipped = Self.stickyTable(source: .header("x-user-id".bytes), onMissingRandom: false, weights: (0, 10_000))
        for _ in 0..<200 { #expect(Router.decide(flipped, TestRequest("/"), rng: &rng)?.target == 1) }
    }

    @Test func shadowDrawUsesItsOwnPercent() {
        func table(_ percent: Int) -> RouteTable {
            RouteTable(backends: Self.backends, routes: [
                Route(name: "r", pathPrefix: "/".bytes, targets: Self.split(10_000, 0),
                      shadow: ShadowSpec(backend: 3, percentBasisPoints: percent)),
            ])
        }
        var rng = SplitMix64(seed: 11)
        let all = table(10_000), none = table(0), quarter = table(2500)
        var shadowed = 0
        for _ in 0..<10_000 {
            #expect(Router.decide(all, TestRequest("/"), rng: &rng)?.shadow == true)
            #expect(Router.decide(none, TestRequest("/"), rng: &rng)?.shadow == false)
            if Router.decide(quarter, TestRequest("/"), rng: &rng)!.shadow { shadowed += 1 }
        }
        // Binomial(10000, 0.25): sd ≈ 43.
        #expect(abs(shadowed - 2500) < 220, "shadowed \(shadowed)")
    }

    @Test func pairScanning() {
        let cases: [(String, String, UInt8, String?)] = [
            ("a=1&b=2", "b", UInt8(ascii: "&"), "2"),
            ("a=1&ab=2", "b", UInt8(ascii: "&"), nil),
            ("flag&x=", "flag", UInt8(ascii: "&"), ""),
            ("x=", "x", UInt8(ascii: "&"), ""),
            ("k=v=w", "k", UInt8(ascii: "&"), "v=w"),
            ("a=1;  sid=xyz", "sid", UInt8(ascii: ";"), "xyz"),
            ("", "a", UInt8(ascii: "&"), nil),
        ]
        for (list, name, sep, expected) in cases {
            let bytes = Array(list.utf8)
            let found: String? = bytes.withUnsafeBytes { raw in
                AttributeScan.pairValue(in: raw, name: name.bytes, separator: sep).map { String(decoding: $0, as: UTF8.self) }
            }
            #expect(found == expected, "\(list) / \(name)")
        }
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
