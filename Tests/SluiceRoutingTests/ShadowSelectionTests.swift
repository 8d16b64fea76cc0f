import Testing
import SluiceRouting

/// `shadow.match`, `sample_by: sticky` and the field comparisons, without sockets.
struct ShadowSelectionTests {
    /// A request with a method.
    struct Req: RequestAttributes {
        let base: TestRequest
        let verb: [UInt8]
        var path: UnsafeRawBufferPointer { base.path }
        var rawQuery: UnsafeRawBufferPointer? { base.rawQuery }
        func header(_ n: [UInt8]) -> UnsafeRawBufferPointer? { base.header(n) }
        var method: UnsafeRawBufferPointer? { verb.withUnsafeBytes { $0 } }
    }

    static func table(_ shadow: ShadowSpec, sticky: StickySpec? = nil) -> RouteTable {
        RouteTable(backends: makeBackends(2), routes: [
            Route(name: "r", pathPrefix: "/".bytes, targets: [Target(backend: 0, weight: 10_000)], sticky: sticky, shadow: shadow),
        ])
    }

    static func mirrored(_ t: RouteTable, _ method: String, _ path: String, _ headers: [(String, String)] = [], seed: UInt64 = 1) -> Bool {
        var rng = SplitMix64(seed: seed)
        let verb = method.bytes
        return verb.withUnsafeBytes { v in
            struct R: RequestAttributes {
                let base: TestRequest
                let verb: UnsafeRawBufferPointer
                var path: UnsafeRawBufferPointer { base.path }
                var rawQuery: UnsafeRawBufferPointer? { base.rawQuery }
                func header(_ n: [UInt8]) -> UnsafeRawBufferPointer? { base.header(n) }
                var method: UnsafeRawBufferPointer? { verb }
            }
            return Router.decide(t, R(base: TestRequest(path, headers: headers), verb: v), rng: &rng)!.shadow
        }
    }

    @Test func onlyMatchingRequestsAreMirrored() {
        var spec = ShadowSpec(backend: 1, percentBasisPoints: 10_000)
        spec.matchMethods = ["POST".bytes]
        spec.matchPathSuffixes = [":predict".bytes, "/predict".bytes]
        spec.matchPathPrefixes = ["/v2/models/".bytes]
        let t = Self.table(spec)
        #expect(Self.mirrored(t, "POST", "/v1/models/fraud:predict"))
        #expect(Self.mirrored(t, "POST", "/v1/models/fraud/predict?x=1"))
        #expect(Self.mirrored(t, "POST", "/v2/models/fraud/infer"))
        #expect(!Self.mirrored(t, "DELETE", "/v1/models/fraud:predict"))
        #expect(!Self.mirrored(t, "GET", "/v1/models/fraud:predict"))
        #expect(!Self.mirrored(t, "POST", "/v1/models/fraud:explain"))
    }

    @Test func stickySamplingMirrorsTheSameUsersEveryTime() {
        var spec = ShadowSpec(backend: 1, percentBasisPoints: 3000)
        spec.stickySalt = "exp-1/shadow".bytes
        let t = Self.table(spec, sticky: StickySpec(source: .header("x-user-id".bytes), salt: "exp-1".bytes))
        var mirroredUsers = 0
        for u in 0..<1000 {
            let user = [("x-user-id", "u\(u)")]
            let first = Self.mirrored(t, "POST", "/p", user, seed: UInt64(u))
            // Another draw, another seed: the same answer, and the documented bucket decides it.
            #expect(Self.mirrored(t, "POST", "/p", user, seed: UInt64(u) &+ 99) == first)
            #expect(first == (StickyHash.bucket(salt: "exp-1/shadow", key: "u\(u)") < 3000))
            if first { mirroredUsers += 1 }
        }
        #expect((240...360).contains(mirroredUsers), "\(mirroredUsers)")
        #expect(!Self.mirrored(t, "POST", "/p"))   // no key: not mirrored
    }

    static func compare(_ field: CompareField, _ a: String, _ b: String) -> FieldComparison {
        let x = a.bytes, y = b.bytes
        return x.withUnsafeBytes { pa in y.withUnsafeBytes { pb in field.compare(pa, pb) } }
    }

    @Test func fieldsCompareByKind() {
        let label = CompareField(pointer: "/p/label", kind: .label)!
        if case .label(let p, let s, let agreed) = Self.compare(label, #"{"p":{"label":"fraud"}}"#, #"{"p":{"label":"not_fraud"}}"#) {
            #expect(String(decoding: p, as: UTF8.self) == "fraud" && String(decoding: s, as: UTF8.self) == "not_fraud" && !agreed)
        } else { Issue.record("expected a label comparison") }
        if case .label(_, _, let agreed) = Self.compare(label, #"{"p":{"label":true}}"#, #"{"p":{"label": true}}"#) { #expect(agreed) }
        if case .missing = Self.compare(label, #"{"p":{}}"#, #"{"p":{"label":"x"}}"#) {} else { Issue.record("expected missing") }

        let number = CompareField(pointer: "/score", kind: .number, tolerance: 0.01)!
        if case .number(let d, let agreed) = Self.compare(number, #"{"score":0.82}"#, #"{"score":0.83}"#) {
            #expect(abs(d - 0.01) < 1e-12 && agreed)
        } else { Issue.record("expected a number") }
        if case .number(let d, let agreed) = Self.compare(number, #"{"score":0.5}"#, #"{"score":"0.4"}"#) {
            #expect(abs(d + 0.1) < 1e-12 && !agreed)
        } else { Issue.record("expected a number") }
        if case .missing = Self.compare(number, #"{"score":"high"}"#, #"{"score":1}"#) {} else { Issue.record("expected missing") }

        let array = CompareField(pointer: "/top", kind: .array)!
        if case .array(let positions, let agreeing, let overlap, let agreed) = Self.compare(array, #"{"top":["a","b","c"]}"#, #"{"top":["a","c","d","e"]}"#) {
            #expect(positions == 4 && agreeing == 1 && abs(overlap - 2.0 / 5.0) < 1e-12 && !agreed)
        } else { Issue.record("expected an array") }
        if case .array(_, _, let overlap, let agreed) = Self.compare(array, #"{"top":[]}"#, #"{"top": [ ]}"#) { #expect(agreed && overlap == 1) }
    }
}
