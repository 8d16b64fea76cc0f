import Testing
import SluiceConfig
@testable import SluiceProxy

/// Endpoint health objects are keyed by address in the control plane, so reloads keep them.
struct EndpointHealthReloadTests {
    static func yaml(_ endpoints: String) -> String {
        """
        listeners:
          - { name: public, address: 127.0.0.1:0 }
        backends:
          - { name: a, endpoints: [\(endpoints)], health_check: { path: /health, interval: 1s } }
        routes:
          - name: r
            match: { path_prefix: / }
            baseline: a
            targets:
              - { backend: a, weight: 100 }
        """
    }

    @Test func reloadKeepsTheHealthOfEndpointsThatStay() throws {
        let control = try ControlPlane(config: ConfigLoader.parse(yaml: Self.yaml("127.0.0.1:1, 127.0.0.1:2"), file: "t.yaml"),
                                       configPath: nil, workers: 2)
        let before = control.currentSnapshot
        #expect(before.endpointHealth.count == before.endpoints.count)
        let allHealthy = before.endpointHealth.allSatisfy { $0.isHealthy }
        #expect(allHealthy, "endpoints start healthy")
        before.endpointHealth[1].storeActive(EndpointHealthState(healthy: false, consecutiveFailures: 3))

        _ = try control.apply(ConfigLoader.parse(yaml: Self.yaml("127.0.0.1:2, 127.0.0.1:3"), file: "t.yaml"))
        let after = control.currentSnapshot
        #expect(after.endpointHealth.map(\.address) == ["127.0.0.1:2", "127.0.0.1:3"])
        #expect(after.endpointHealth[0] === before.endpointHealth[1], "same object for the same host:port")
        #expect(!after.endpointHealth[0].isHealthy)
        #expect(after.endpointHealth[1].isHealthy, "a new endpoint starts healthy")

        // Weight changes publish new snapshots with the same health objects.
        try control.setWeights(route: "r", weights: ["a": 100])
        #expect(control.currentSnapshot.endpointHealth[0] === after.endpointHealth[0])
    }
}
