import SluiceConfig
import Testing

/// Errors must name the YAML path and line, and all of them come out at once.
struct ErrorReportingTests {
    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "bad.yaml")
            Issue.record("expected errors")
            return []
        } catch {
            return error.lines
        }
    }

    static let minimal = """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }]
        routes: [{ name: r, match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]

        """

    @Test func minimalConfigIsValid() throws {
        let config = try ConfigLoader.parse(yaml: Self.minimal, file: "min.yaml")
        #expect(config.listeners[0].port == 0)
        #expect(config.routeTable.routes[0].targets[0].weight == 10_000)
    }

    @Test func everyErrorIsReportedWithPathAndLine() {
        let yaml = """
            workers: 0
            limits:
              max_request_body: 16XB
            listeners:
              - name: public
                address: 127.0.0.1:99999
            backends:
              - name: a
                endpoints: [127.0.0.1:8501]
              - name: a
                endpoints: []
                protocol: h3
            routes:
              - name: r
                matc: { path_prefix: /x }
                targets:
                  - { backend: a, weight: 90 }
                  - { backend: ghost, weight: 5 }
                sticky: { header: x-user-id, cookie: uid, salt: s }
                shadow: { backend: a, percent: 101 }
                rollback: { window: 60s }
            """
        let lines = Self.errors(yaml)
        #expect(lines == [
            "bad.yaml:1: workers: must be 1...256, found 0",
            "bad.yaml:3: limits.max_request_body: invalid size '16XB': expected bytes as an integer, or with a unit B, KiB, MiB or GiB (e.g. 512KiB, 16MiB)",
            "bad.yaml:6: listeners[0].address: invalid address '127.0.0.1:99999': port must be an integer 0..65535",
            "bad.yaml:10: backends[1].name: duplicate backend name 'a' (first defined at line 8)",
            "bad.yaml:11: backends[1].endpoints: at least one endpoint is required",
            "bad.yaml:12: backends[1].protocol: must be http1 or h2, found 'h3'",
            "bad.yaml:14: routes[0].match: missing required field",
            "bad.yaml:15: routes[0].matc: unknown field",
            "bad.yaml:16: routes[0].targets: weights sum to 95, must be 100",
            "bad.yaml:18: routes[0].targets[1].backend: backend 'ghost' is not defined",
            "bad.yaml:19: routes[0].sticky: exactly one of header, cookie, query is required",
            "bad.yaml:20: routes[0].shadow.backend: 'a' is a target of this route; a shadow must be another backend",
            "bad.yaml:20: routes[0].shadow.percent: must be a number 0..100 with at most 2 decimals, found '101'",
            "bad.yaml:21: routes[0].rollback: at least one of max_p99_latency, max_error_rate, relative_to_baseline is required",
        ])
    }

    @Test func routeFeatureErrors() {
        let yaml = Self.minimal + """
            backends2: 1
            """
        #expect(Self.errors(yaml) == ["bad.yaml:4: backends2: unknown field"])

        let features = """
            listeners: [{ name: l, address: "[::1]:0" }]
            backends:
              - { name: a, endpoints: [127.0.0.1:1], health_check: { path: health, timeout: 10s } }
              - { name: b, endpoints: [127.0.0.1:2], timeouts: { connect: 0s } }
            routes:
              - name: r
                match: { path_exact: v1, headers: { "bad header": x } }
                baseline: c
                targets: [{ backend: a, weight: 50.5 }, { backend: b, weight: 49.123 }, { backend: a, weight: 0 }]
                sticky: { query: user, salt: "", on_missing: sometimes }
                progressive: { target: a, steps: [5, 5, 0], interval: 0s }
                shadow: { backend: a, max_in_flight: 0, compare: { json_pointer: predictions } }
                rollback: { max_error_rate: 1.5, breaches_to_trip: 0, relative_to_baseline: {} }
            access_log: { path: /tmp/x, sample_rate: 2 }
            """
        #expect(Self.errors(features) == [
            "bad.yaml:3: backends[0].health_check.path: must start with '/'",
            "bad.yaml:3: backends[0].health_check.timeout: must not exceed interval",
            "bad.yaml:4: backends[1].timeouts.connect: must be greater than 0",
            "bad.yaml:7: routes[0].match.path_exact: must start with '/', found 'v1'",
            "bad.yaml:7: routes[0].match.headers: 'bad header' is not a valid header name",
            "bad.yaml:8: routes[0].baseline: 'c' is not one of the targets (a, b, a)",
            "bad.yaml:9: routes[0].targets[1].weight: must be a number 0..100 with at most 2 decimals, found '49.123'",
            "bad.yaml:9: routes[0].targets[2].backend: backend 'a' is already a target of this route",
            "bad.yaml:10: routes[0].sticky.salt: must not be empty",
            "bad.yaml:10: routes[0].sticky.on_missing: must be baseline or random, found 'sometimes'",
            "bad.yaml:11: routes[0].progressive.target: 'a' is the baseline; progressive needs another target",
            "bad.yaml:11: routes[0].progressive.steps[1]: steps must be strictly increasing (5 after 5)",
            "bad.yaml:11: routes[0].progressive.steps[2]: steps must be greater than 0",
            "bad.yaml:11: routes[0].progressive.interval: must be greater than 0",
            "bad.yaml:12: routes[0].shadow.backend: 'a' is a target of this route; a shadow must be another backend",
            "bad.yaml:12: routes[0].shadow.max_in_flight: must be 1...1000000, found 0",
            "bad.yaml:12: routes[0].shadow.compare.json_pointer: must start with '/' (an RFC 6901 JSON pointer), found 'predictions'",
            "bad.yaml:13: routes[0].rollback.max_error_rate: must be in 0.0...1.0, found 1.5",
            "bad.yaml:13: routes[0].rollback.breaches_to_trip: must be 1...10000, found 0",
            "bad.yaml:13: routes[0].rollback.relative_to_baseline: at least one of p99_ratio, error_rate_delta is required",
            "bad.yaml:14: access_log.sample_rate: must be in 0.0...1.0, found 2",
        ])
    }

    @Test func missingSectionsAndWrongShapes() {
        #expect(Self.errors("workers: auto\n") == [
            "bad.yaml:1: listeners: missing required field",
            "bad.yaml:1: backends: missing required field",
            "bad.yaml:1: routes: missing required field",
        ])
        #expect(Self.errors("- a\n- b\n") == ["bad.yaml:1: expected a mapping, found a list"])
        #expect(Self.errors("") == ["bad.yaml:1: the file is empty"])
        let shapes = """
            listeners: { name: l }
            backends: [{ name: a, endpoints: 127.0.0.1:1 }]
            routes: [{ name: [r], match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]
            """
        #expect(Self.errors(shapes) == [
            "bad.yaml:1: listeners: expected a list, found a mapping",
            "bad.yaml:2: backends[0].endpoints: expected a list, found a value",
            "bad.yaml:3: routes[0].name: expected a single value, found a list",
        ])
    }

    @Test func yamlSyntaxErrorReportsYamsLine() {
        let yaml = """
            listeners:
              - name: public
                address: [127.0.0.1:8080
            backends: []
            """
        let lines = Self.errors(yaml)
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("bad.yaml:4: invalid YAML:") == true, "\(lines)")
        let duplicate = Self.errors("workers: 1\nworkers: 2\n")
        #expect(duplicate == ["bad.yaml:1: invalid YAML: duplicate key 'workers'"])
    }

    @Test func unreadableFile() {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(path: "/nonexistent/sluice.yaml") }
    }
}
