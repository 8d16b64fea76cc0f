import SluiceConfig
import SluiceRouting
import Testing

/// `relative_to_baseline.method: sequential`, `rollback.dry_run`, `progressive.gates` and `require_evidence`.
struct RolloutVerdictConfigTests {
    static func config(route extra: String) -> String {
        """
        listeners: [{ name: l, address: 127.0.0.1:0 }]
        backends: [{ name: a, endpoints: [127.0.0.1:1] }, { name: b, endpoints: [127.0.0.1:2] }]
        routes:
          - name: r
            match: { path_prefix: / }
            baseline: a
            targets: [{ backend: a, weight: 100 }, { backend: b, weight: 0 }]
        \(extra)
        """
    }

    @Test func sequentialFieldsAndDefaults() throws {
        let yaml = Self.config(route: """
                progressive: { target: b, steps: [5, 25, 100], interval: 10m, gates: [{ at: 25, approval: manual }], require_evidence: false }
                rollback:
                  dry_run: true
                  relative_to_baseline: { method: sequential, alpha: 0.01, max_error_ratio: 1.5, latency_threshold: 250ms, max_slow_ratio: 2 }
            """)
        let route = try ConfigLoader.parse(yaml: yaml, file: "seq.yaml").routeTable.routes[0]
        let rollback = try #require(route.rollback)
        #expect(rollback.dryRun)
        let relative = try #require(rollback.relativeToBaseline)
        #expect(relative.method == .sequential)
        #expect(relative.alpha == 0.01)
        #expect(relative.maxErrorRatio == 1.5)
        #expect(relative.latencyThreshold == .micros(250_000))
        #expect(relative.maxSlowRatio == 2)
        #expect(route.progressive?.gates == [2500])
        #expect(route.progressive?.requireEvidence == false)

        let defaults = try ConfigLoader.parse(yaml: Self.config(route: """
                progressive: { target: b, steps: [5, 100], interval: 1m }
                rollback: { relative_to_baseline: { method: sequential, latency_threshold: p99.5 } }
            """), file: "seq.yaml").routeTable.routes[0]
        #expect(defaults.rollback?.relativeToBaseline?.alpha == 0.05)
        #expect(defaults.rollback?.relativeToBaseline?.latencyThreshold == .baselineQuantile(0.995))
        #expect(defaults.rollback?.dryRun == false)
        #expect(defaults.progressive?.requireEvidence == true)
        #expect(defaults.progressive?.gates == [])
    }

    @Test func mixingTheMethodsFieldsIsAnError() {
        let lines = ErrorReportingTests.errors(Self.config(route: """
                progressive: { target: b, steps: [5, 100], interval: 1m, gates: [{ at: 50, approval: manual }, { at: 5, approval: auto }] }
                rollback:
                  relative_to_baseline: { method: sequential, p99_ratio: 1.5, alpha: 0.9, latency_threshold: p20 }
                  dry_run: maybe
            """))
        #expect(lines == [
            "bad.yaml:8: routes[0].progressive.gates[0].at: 50 is not one of the steps",
            "bad.yaml:8: routes[0].progressive.gates[1].approval: must be manual, found 'auto'",
            "bad.yaml:10: routes[0].rollback.relative_to_baseline.p99_ratio: applies to method: z_test only (sequential uses max_error_ratio, latency_threshold, max_slow_ratio)",
            "bad.yaml:10: routes[0].rollback.relative_to_baseline.alpha: must be in 0.0001...0.5, found 0.9",
            "bad.yaml:10: routes[0].rollback.relative_to_baseline.latency_threshold: a baseline percentile must be p50 ... p99.9, found 'p20'",
            "bad.yaml:11: routes[0].rollback.dry_run: expected true or false, found 'maybe'",
        ])
        let zTest = ErrorReportingTests.errors(Self.config(route: """
                rollback: { relative_to_baseline: { p99_ratio: 2, alpha: 0.05, method: fisher } }
            """))
        #expect(zTest == [
            "bad.yaml:8: routes[0].rollback.relative_to_baseline.method: must be z_test or sequential, found 'fisher'",
            "bad.yaml:8: routes[0].rollback.relative_to_baseline.alpha: applies to method: sequential only",
        ])
    }
}
