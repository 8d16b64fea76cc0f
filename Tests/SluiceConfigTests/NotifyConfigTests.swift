import SluiceConfig
import Testing

/// `notify:` at the top level and per route: URLs, event names, defaults, and located errors.
struct NotifyConfigTests {
    static func config(top: String = "", route: String = "") -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }, { name: b, endpoints: [127.0.0.1:2] }]
        routes:
          - name: r
            match: { path_prefix: / }
            targets: [{ backend: a, weight: 90 }, { backend: b, weight: 10 }]
        \(route)
          - name: other
            match: { path_prefix: /other }
            targets: [{ backend: a, weight: 100 }]
        \(top)
        """
    }

    static func errors(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: "n.yaml")
            Issue.record("expected errors")
            return []
        } catch {
            return error.lines
        }
    }

    @Test func withoutNotifyThereAreNoDestinations() throws {
        let config = try ConfigLoader.parse(yaml: Self.config(), file: "n.yaml")
        #expect(config.notify.isEmpty)
        #expect(config.routeNotify.isEmpty)
        #expect(config.notifyDestinations(route: "r", event: "rolled_back").isEmpty)
    }

    @Test func topLevelEntriesAreParsedWithTheirDefaults() throws {
        let yaml = Self.config(top: """
            notify:
              - url: http://127.0.0.1:9000/hooks/sluice?team=ml
                events: [rolled_back, promoted, step, paused, awaiting_approval, inconclusive]
                timeout: 500ms
                max_attempts: 3
              - url: http://localhost
            """)
        let config = try ConfigLoader.parse(yaml: yaml, file: "n.yaml")
        #expect(config.notify == [
            NotifySpec(url: "http://127.0.0.1:9000/hooks/sluice?team=ml", host: "127.0.0.1", port: 9000,
                       path: "/hooks/sluice?team=ml",
                       events: ["rolled_back", "promoted", "step", "paused", "awaiting_approval", "inconclusive"],
                       timeoutNanos: 500_000_000, maxAttempts: 3),
            NotifySpec(url: "http://localhost", host: "localhost", port: 80, path: "/",
                       events: NotifySpec.eventNames, timeoutNanos: 2_000_000_000, maxAttempts: 5),
        ])
        #expect(config.notify[0].matches(event: "rolled_back"))
        #expect(!config.notify[0].matches(event: "resumed"))
        #expect(NotifySpec.eventNames.allSatisfy { config.notify[1].matches(event: $0) })
    }

    @Test func ipv6HostsAndDefaultPorts() throws {
        let yaml = Self.config(top: """
            notify: [{ url: "http://[::1]:8081/x" }, { url: "http://[::1]" }, { url: "http://10.0.0.7?q=1" }]
            """)
        let specs = try ConfigLoader.parse(yaml: yaml, file: "n.yaml").notify
        #expect(specs.map(\.host) == ["::1", "::1", "10.0.0.7"])
        #expect(specs.map(\.port) == [8081, 80, 80])
        #expect(specs.map(\.path) == ["/x", "/", "/?q=1"])
    }

    @Test func perRouteEntriesAreKeyedByRouteName() throws {
        let yaml = Self.config(top: """
            notify: [{ url: "http://127.0.0.1:9000/all", events: [rolled_back] }]
            """, route: """
                notify:
                  - url: http://127.0.0.1:9001/r
                    events: [step, rolled_back]
                  - url: http://127.0.0.1:9000/all
            """)
        let config = try ConfigLoader.parse(yaml: yaml, file: "n.yaml")
        #expect(config.routeNotify.keys.sorted() == ["r"])
        #expect(config.routeNotify["r"]?.map(\.port) == [9001, 9000])
        // Top level first, then the route's own; a URL named twice gets the event once.
        #expect(config.notifyDestinations(route: "r", event: "rolled_back").map(\.url)
            == ["http://127.0.0.1:9000/all", "http://127.0.0.1:9001/r"])
        #expect(config.notifyDestinations(route: "r", event: "step").map(\.url)
            == ["http://127.0.0.1:9001/r", "http://127.0.0.1:9000/all"])
        #expect(config.notifyDestinations(route: "other", event: "step").isEmpty)
        #expect(config.notifyDestinations(route: "other", event: "rolled_back").map(\.port) == [9000])
        // The route model itself is untouched.
        #expect(config.routeTable.routes.map(\.name) == ["r", "other"])
    }

    @Test func httpsIsRefusedWithPathAndLine() {
        let lines = Self.errors(Self.config(top: """
            notify:
              - url: https://127.0.0.1:9443/hook
            """))
        #expect(lines == [
            "n.yaml:12: notify[0].url: https is not supported yet: use an http:// URL, found 'https://127.0.0.1:9443/hook'",
        ])
    }

    @Test func unknownEventsAreNamed() {
        let lines = Self.errors(Self.config(route: """
                notify:
                  - url: http://127.0.0.1:9001/r
                    events: [rolled_back, rollback]
            """))
        #expect(lines == [
            "n.yaml:9: routes[0].notify[0].events[1]: unknown event 'rollback' (expected one of rolled_back, promoted, step, paused, resumed, awaiting_approval, approved, inconclusive, would_roll_back)",
        ])
    }

    @Test func otherMistakesAreLocated() {
        let lines = Self.errors(Self.config(top: """
            notify:
              - url: ftp://127.0.0.1/x
              - url: http://hooks.example.com/x
              - url: http://127.0.0.1:0/x
              - { url: "http://127.0.0.1:9000", events: [], timeout: 0s, max_attempts: 0, retries: 2 }
              - events: [step]
            """))
        #expect(lines == [
            "n.yaml:12: notify[0].url: must be an http:// URL (http://host:port/path), found 'ftp://127.0.0.1/x'",
            "n.yaml:13: notify[1].url: invalid URL 'http://hooks.example.com/x': host must be an IPv4 address, [IPv6] or localhost",
            "n.yaml:14: notify[2].url: invalid URL 'http://127.0.0.1:0/x': port must be 1..65535",
            "n.yaml:15: notify[3].retries: unknown field",
            "n.yaml:15: notify[3].events: at least one event is required (leave the field out to send every event)",
            "n.yaml:15: notify[3].timeout: must be greater than 0",
            "n.yaml:15: notify[3].max_attempts: must be 1...100, found 0",
            "n.yaml:16: notify[4].url: missing required field",
        ])
    }

    @Test func unknownKeysInARouteAreStillReportedOnce() {
        let lines = Self.errors(Self.config(route: """
                notfy: [{ url: "http://127.0.0.1:9001/r" }]
            """))
        #expect(lines == ["n.yaml:7: routes[0].notfy: unknown field"])
    }
}
