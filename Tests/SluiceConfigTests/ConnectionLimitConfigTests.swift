import SluiceConfig
import Testing

/// `limits.max_connections` and `listeners[].backlog`: defaults, values, located errors.
struct ConnectionLimitConfigTests {
    static func config(limits: String = "", listener: String = "") -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0\(listener) }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }]
        routes:
          - name: r
            match: { path_prefix: / }
            targets: [{ backend: a, weight: 100 }]
        \(limits)
        """
    }

    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "c.yaml")
            Issue.record("expected errors")
            return []
        } catch {
            return error.lines
        }
    }

    @Test func defaultsLeaveTheLimitToTheProcessAndUse4096() throws {
        let c = try ConfigLoader.parse(yaml: Self.config(), file: "c.yaml")
        #expect(c.limits.maxConnections == nil)
        #expect(c.listeners[0].backlog == 4096)
    }

    @Test func valuesAreRead() throws {
        let c = try ConfigLoader.parse(yaml: Self.config(limits: "limits: { max_connections: 5000 }", listener: ", backlog: 128"), file: "c.yaml")
        #expect(c.limits.maxConnections == 5000)
        #expect(c.listeners[0].backlog == 128)
    }

    @Test func outOfRangeValuesAreLocatedErrors() {
        let e1 = Self.errors(Self.config(limits: "limits: { max_connections: 0 }"))
        #expect(e1.contains { $0.contains("limits.max_connections") }, "\(e1)")
        let e2 = Self.errors(Self.config(listener: ", backlog: 70000"))
        #expect(e2.contains { $0.contains("listeners[0].backlog") }, "\(e2)")
    }
}
