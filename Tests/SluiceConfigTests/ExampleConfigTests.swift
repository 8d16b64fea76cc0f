import Foundation
import SluiceConfig
import SluiceRouting
import Testing

/// Every example in `config/` must load; the docs and operators copy from them.
struct ExampleConfigTests {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ name: String) throws -> SluiceConfig {
        let path = repoRoot.appendingPathComponent("config/\(name).yaml").path
        do {
            return try ConfigLoader.load(path: path)
        } catch {
            Issue.record("\(error)")
            throw error
        }
    }

    @Test(arguments: ["canary", "sticky-ab", "full", "blue-green", "upstream-tls", "sequential-canary", "multi-model", "fleet"])
    func exampleIsValid(_ name: String) throws {
        let config = try Self.load(name)
        #expect(!config.listeners.isEmpty)
        #expect(config.routeTable.routes.allSatisfy { $0.acceptsWeights($0.targets.map(\.weight)) })
    }

    /// The configs shipped for containers (docker/sluice.yaml, docker/sluice.compose.yaml,
    /// docker/k8s/sluice.yaml) are real configs too.
    @Test(arguments: ["docker/sluice.yaml", "docker/sluice.compose.yaml", "docker/k8s/sluice.yaml", "docker/k8s/fleet/sluice.yaml"])
    func containerConfigIsValid(_ relative: String) throws {
        let config = try ConfigLoader.load(path: Self.repoRoot.appendingPathComponent(relative).path)
        #expect(!config.listeners.isEmpty)
        #expect(config.admin != nil)
    }

    /// Every YAML file under config/ is one of the examples checked above.
    @Test func everyExampleIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.repoRoot.appendingPathComponent("config").path)
        #expect(Set(files.filter { $0.hasSuffix(".yaml") }) == [
            "canary.yaml", "sticky-ab.yaml", "full.yaml", "blue-green.yaml", "upstream-tls.yaml", "sequential-canary.yaml",
            "multi-model.yaml", "fleet.yaml",
        ])
    }

    /// The fleet example: etcd endpoint, lease and publication period as documented in docs/fleet.md.
    @Test func fleetExampleJoinsAFleet() throws {
        let config = try Self.load("fleet")
        let fleet = try #require(config.fleet)
        #expect(fleet.name == "fraud-prod")
        #expect(fleet.instance == nil)
        #expect(fleet.endpoints == [FleetSpec.Endpoint(host: "127.0.0.1", port: 2379)])
        #expect(fleet.leaseTTLNanos == 5_000_000_000)
        #expect(fleet.publishEveryNanos == 1_000_000_000)
    }

    @Test func canaryIsNinetyTen() throws {
        let config = try Self.load("canary")
        let table = config.routeTable
        #expect(config.workers == nil)
        #expect(config.listeners == [ListenerConfig(name: "public", host: "127.0.0.1", port: 8080)])
        #expect(config.admin == AdminConfig(host: "127.0.0.1", port: 9901))
        #expect(table.backends.map(\.name) == ["fraud-v2-3-1", "fraud-v2-4-0"])
        #expect(table.backends[1].endpoints == [Endpoint(host: "127.0.0.1", port: 8502)])
        #expect(table.routes[0].targets == [Target(backend: 0, weight: 9000), Target(backend: 1, weight: 1000)])
        #expect(table.routes[0].pathPrefix == Array("/v1/models/fraud-detector".utf8))
        #expect(table.routes[0].sticky == nil)
    }

    /// Several models behind one listener, each route selected by match.model.
    @Test func multiModelRoutesByModel() throws {
        let config = try Self.load("multi-model")
        let table = config.routeTable
        #expect(config.limits.modelPeek == 16 << 10)
        #expect(table.usesModel)
        #expect(table.routes.map(\.model) == [.exact(Array("fraud-detector".utf8)), .prefix(Array("llama-3".utf8)), .exact(Array("resnet".utf8)), nil])
        #expect(table.routes[0].pathPrefix == nil && table.routes[0].pathExact == nil)
        #expect(table.routes[1].pathPrefix == Array("/v1/".utf8))
        #expect(table.routes[0].targets == [Target(backend: 0, weight: 9000), Target(backend: 1, weight: 1000)])
        #expect(table.routes[1].sticky != nil)
        #expect(table.routes[0].shadow?.fields.map(\.kind) == [.label, .number, .array])
        #expect(table.routes[0].shadow?.matchMethods == [Array("POST".utf8)])
        #expect(table.routes[1].shadow?.stickySalt == Array("llama-quant-2026-12/shadow".utf8))
    }

    /// A 95/5 canary judged by the sequential tests, every sequential field spelled out.
    @Test func sequentialCanaryUsesSequentialTests() throws {
        let table = try Self.load("sequential-canary").routeTable
        #expect(table.backends.map(\.name) == ["fraud-v2-3-1", "fraud-v2-4-0"])
        let route = table.routes[0]
        #expect(route.targets == [Target(backend: 0, weight: 9500), Target(backend: 1, weight: 500)])
        #expect(route.baseline == 0)
        #expect(route.progressive == nil)
        let relative = RelativeThresholds(method: .sequential, alpha: 0.05, maxErrorRatio: 1,
                                          latencyThreshold: .baselineQuantile(0.9), maxSlowRatio: 1.25)
        #expect(route.rollback == RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 100,
                                               maxErrorRate: 0.2, breachesToTrip: 3, relativeToBaseline: relative, dryRun: false))
        #expect(route.rollback?.relativeToBaseline?.p99Ratio == nil && route.rollback?.relativeToBaseline?.errorRateDelta == nil)
    }

    @Test func stickyABCompiles() throws {
        let route = try Self.load("sticky-ab").routeTable.routes[0]
        #expect(route.sticky == StickySpec(source: .header(Array("x-user-id".utf8)), salt: Array("recsys-ab-2026-11".utf8)))
        #expect(route.overrideHeader == Array("x-sluice-target".utf8))
        #expect(route.headerMatches == [HeaderMatch(name: Array("x-tenant".utf8), value: Array("acme".utf8))])
    }

    @Test func blueGreenIsAllBlue() throws {
        let table = try Self.load("blue-green").routeTable
        #expect(table.weights(route: 0) == [10_000, 0])
        #expect(table.backends[1].healthCheck == HealthCheckSpec(path: "/v1/models/scoring"))
    }

    @Test func fullSetsEveryField() throws {
        let config = try Self.load("full")
        #expect(config.limits == Limits())
        #expect(config.admin?.tokenFile == "/etc/sluice/admin-token")
        #expect(config.admin?.allowedHosts == ["sluice-admin.example.internal"])
        #expect(config.accessLog == AccessLogConfig(path: "/var/log/sluice/access.jsonl", sampleRate: 0.01))
        let table = config.routeTable
        #expect(table.backends[0].timeouts == BackendTimeouts(connectNanos: 250_000_000, requestNanos: 5_000_000_000, idleNanos: 60_000_000_000))
        #expect(table.backends[2].protocol == .h2)
        #expect(table.backends[2].endpoints == [Endpoint(host: "::1", port: 8503)])
        let tls = try #require(table.backends[2].tls)
        #expect(tls.caFile == "/etc/sluice/backend-ca.pem")
        #expect(tls.serverName == "fraud-rc.internal")
        #expect(tls.verify)
        #expect(tls.clientCertificate?.certificate == "/etc/sluice/client.pem")
        #expect(tls.clientCertificate?.privateKey == "/etc/sluice/client.key")
        #expect(table.backends[0].tls == nil)
        let r = table.routes[0]
        #expect(r.maxRequestBody == 256 << 20)
        #expect(r.headerMatches == [HeaderMatch(name: Array("x-api-version".utf8), value: Array("2".utf8))])
        #expect(r.progressive == ProgressiveSpec(target: 1, steps: [100, 500, 2500, 5000, 10_000], intervalNanos: 600_000_000_000,
                                                 gates: [5000], requireEvidence: true))
        #expect(r.shadow == ShadowSpec(backend: 2, percentBasisPoints: 10_000, maxInFlight: 64, maxBodyBytes: 1 << 20,
                                       compare: ShadowCompare(jsonPointer: "/predictions/fraud_probability", tolerance: 0.01)))
        #expect(r.rollback == RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: 100,
                                           maxP99Micros: 250_000, maxErrorRate: 0.02, breachesToTrip: 3,
                                           relativeToBaseline: RelativeThresholds(p99Ratio: 1.5, errorRateDelta: 0.01)))
        #expect(config.notify.map(\.url) == ["http://127.0.0.1:9000/hooks/sluice"])
        #expect(config.notify.first?.events.count == 9)
        #expect(config.routeNotify["fraud-detector"]?.first?.events == ["rolled_back", "awaiting_approval"])
        #expect(table.routes[1].pathExact == Array("/healthz".utf8))
        #expect(table.routes[1].baseline == 0)
    }

    @Test func upstreamTLSSetsTrustPerBackend() throws {
        let table = try Self.load("upstream-tls").routeTable
        #expect(table.backends.map(\.name) == ["triton-v1", "triton-v2", "fraud-rest"])
        #expect(table.backends[0].protocol == .h2)
        #expect(table.backends[0].tls?.caFile == "/etc/sluice/ca.pem")
        #expect(table.backends[0].tls?.serverName == "triton.internal")
        #expect(table.backends[0].tls?.verify == true)
        // Mutual TLS towards Triton: both versions present the same client certificate.
        for b in 0...1 {
            let identity = table.backends[b].tls?.clientCertificate
            #expect(identity?.certificate == "/etc/sluice/client.pem" && identity?.privateKey == "/etc/sluice/client.key")
        }
        #expect(table.backends[2].tls?.clientCertificate == nil)
        #expect(table.backends[2].protocol == .http1)
        #expect(table.backends[2].tls?.caFile == nil)
        #expect(table.backends[2].tls?.serverName == "fraud.models.example.com")
        #expect(table.backends[2].healthCheck?.path == "/v1/models/fraud-detector")
        #expect(table.weights(route: 0) == [9000, 1000])
    }
}
