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
