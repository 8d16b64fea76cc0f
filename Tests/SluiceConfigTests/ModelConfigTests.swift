import SluiceConfig
import SluiceRouting
import Testing

/// `match.model`, `match.model_prefix` and `limits.model_peek`.
struct ModelConfigTests {
    static func yaml(match: String, limits: String = "") -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        \(limits)
        backends: [{ name: a, endpoints: [127.0.0.1:1] }]
        routes:
          - name: r
            match: \(match)
            targets: [{ backend: a, weight: 100 }]

        """
    }

    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "m.yaml")
            Issue.record("expected errors")
            return []
        } catch {
            return error.lines
        }
    }

    @Test func modelAloneIsAMatch() throws {
        let c = try ConfigLoader.parse(yaml: Self.yaml(match: "{ model: fraud }"), file: "m.yaml")
        #expect(c.routeTable.routes[0].model == .exact(Array("fraud".utf8)))
        #expect(c.routeTable.routes[0].pathPrefix == nil)
        #expect(c.limits.modelPeek == 16384)
        let p = try ConfigLoader.parse(yaml: Self.yaml(match: "{ model_prefix: llama-, path_exact: /v1/chat/completions }", limits: "limits: { model_peek: 4KiB }"), file: "m.yaml")
        #expect(p.routeTable.routes[0].model == .prefix(Array("llama-".utf8)))
        #expect(p.routeTable.routes[0].pathExact == Array("/v1/chat/completions".utf8))
        #expect(p.limits.modelPeek == 4096)
    }

    @Test func badModelFieldsNameTheirLine() {
        #expect(Self.errors(Self.yaml(match: "{ model: a, model_prefix: b }")).contains { $0.contains("routes[0].match.model") && $0.contains("at most one of model, model_prefix") })
        #expect(Self.errors(Self.yaml(match: "{ model: '' }")).contains { $0.contains("routes[0].match.model") && $0.contains("must not be empty") })
        #expect(Self.errors(Self.yaml(match: "{ headers: { x: y } }")).contains { $0.contains("routes[0].match") && $0.contains("(or match on model)") })
        #expect(Self.errors(Self.yaml(match: "{ model: a }", limits: "limits: { model_peek: 1MiB }")).contains { $0.contains("limits.model_peek") && $0.contains("m.yaml:2") })
    }
}

/// `shadow.match`, `shadow.sample_by` and `shadow.compare` as a list.
struct ShadowConfigTests {
    static func yaml(_ shadow: String, sticky: Bool = true) -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }, { name: s, endpoints: [127.0.0.1:2] }]
        routes:
          - name: r
            match: { path_prefix: / }
            targets: [{ backend: a, weight: 100 }]
        \(sticky ? "    sticky: { header: x-user-id, salt: exp-7 }" : "")
            shadow:
              backend: s
              percent: 25
        \(shadow.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))

        """
    }

    @Test func everyShadowFieldCompiles() throws {
        let c = try ConfigLoader.parse(yaml: Self.yaml("""
            match: { methods: [POST], path_prefixes: [/v2/models/], path_suffixes: [":predict"] }
            sample_by: sticky
            compare:
              - { pointer: /predictions/label, kind: label }
              - { pointer: /predictions/score, kind: number, tolerance: 0.01 }
              - { pointer: /predictions/top_k, kind: array }
            """), file: "s.yaml")
        let spec = try #require(c.routeTable.routes[0].shadow)
        #expect(spec.matchMethods == [Array("POST".utf8)])
        #expect(spec.matchPathPrefixes == [Array("/v2/models/".utf8)])
        #expect(spec.matchPathSuffixes == [Array(":predict".utf8)])
        #expect(spec.stickySalt == Array("exp-7/shadow".utf8))
        #expect(spec.fields.map(\.kind) == [.label, .number, .array])
        #expect(spec.fields[1].tolerance == 0.01)
        #expect(spec.compare == nil)
        // The single-pointer form still works.
        let old = try ConfigLoader.parse(yaml: Self.yaml("compare: { json_pointer: /p, tolerance: 0.5 }"), file: "s.yaml")
        #expect(old.routeTable.routes[0].shadow?.compare == ShadowCompare(jsonPointer: "/p", tolerance: 0.5))
        #expect(old.routeTable.routes[0].shadow?.fields.isEmpty == true)
    }

    @Test func badShadowFieldsNameTheirLine() {
        let e1 = ModelConfigTests.errors(Self.yaml("sample_by: sticky", sticky: false))
        #expect(e1.contains { $0.contains("routes[0].shadow.sample_by") && $0.contains("needs the route's sticky key") }, "\(e1)")
        let e2 = ModelConfigTests.errors(Self.yaml("match: { methods: [post] }"))
        #expect(e2.contains { $0.contains("routes[0].shadow.match.methods[0]") }, "\(e2)")
        let e3 = ModelConfigTests.errors(Self.yaml("compare: [{ pointer: /a, kind: fuzzy }, { pointer: b, kind: label }, { pointer: /c, kind: label, tolerance: 1 }]"))
        #expect(e3.contains { $0.contains("compare[0].kind") && $0.contains("expected label, number or array") }, "\(e3)")
        #expect(e3.contains { $0.contains("compare[1].pointer") }, "\(e3)")
        #expect(e3.contains { $0.contains("compare[2].tolerance") && $0.contains("number only") }, "\(e3)")
        let e4 = ModelConfigTests.errors(Self.yaml("match: {}"))
        #expect(e4.contains { $0.contains("routes[0].shadow.match") && $0.contains("at least one of") }, "\(e4)")
    }
}
