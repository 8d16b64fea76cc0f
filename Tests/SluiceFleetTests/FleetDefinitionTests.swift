import Foundation
import SluiceFleet
import SluiceRouting
import Testing

/// The route definition hash that keeps replicas with different configs from applying each other's state.
struct FleetDefinitionTests {
    static func route(weight: Int = 9000, backends: (Int, Int) = (0, 1), minRequests: Int = 100) -> Route {
        Route(name: "r", pathPrefix: Array("/".utf8), baseline: 0,
              targets: [Target(backend: backends.0, weight: weight), Target(backend: backends.1, weight: 10_000 - weight)],
              rollback: RollbackSpec(windowSeconds: 60, evaluateEveryNanos: 5_000_000_000, minRequests: minRequests,
                                     maxP99Micros: 250_000, maxErrorRate: 0.02, breachesToTrip: 3))
    }

    @Test func sameYAMLSameHashWhateverTheBackendTableOrder() {
        let a = FleetDefinition.hash(route: Self.route(), targetNames: ["v1", "v2"])
        #expect(a == FleetDefinition.hash(route: Self.route(backends: (3, 7)), targetNames: ["v1", "v2"]))
        #expect(a.count == 16)
    }

    @Test func anyDefinitionChangeChangesTheHash() {
        let a = FleetDefinition.hash(route: Self.route(), targetNames: ["v1", "v2"])
        #expect(a != FleetDefinition.hash(route: Self.route(minRequests: 101), targetNames: ["v1", "v2"]))
        #expect(a != FleetDefinition.hash(route: Self.route(weight: 8000), targetNames: ["v1", "v2"]))
        #expect(a != FleetDefinition.hash(route: Self.route(), targetNames: ["v1", "v3"]))
    }

    @Test func routeStateRoundTripsAsDocumentedJSON() throws {
        let s = FleetRouteState(route: "r", definition: "00ff", generation: 7, targets: ["a", "b"], weights: [9000, 1000],
                                state: "progressing", reason: nil, step: 1, stepStarted: 1_700_000_000.5, by: "pod-a",
                                event: "weight_change", cause: "progressive step")
        let json = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        #expect(json.contains("\"step_started\":1700000000.5"))
        #expect(json.contains("\"generation\":7"))
        #expect(try JSONDecoder().decode(FleetRouteState.self, from: Data(json.utf8)) == s)
    }
}
