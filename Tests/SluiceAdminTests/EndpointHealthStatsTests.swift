import Foundation
import Testing
import SluiceCore
@testable import SluiceProxy

/// Endpoint health in `/stats` (`targets[].endpoints[]`) and `/metrics` (`sluice_endpoint_healthy`).
@Suite("Admin API: endpoint health")
struct EndpointHealthStatsTests {
    /// Marks backend a's endpoint unhealthy (3 failed probes) and ejected by worker 0.
    static func degrade(_ control: ControlPlane) {
        let snapshot = control.currentSnapshot
        let health = snapshot.endpointHealth[snapshot.backendEndpoints[0][0]]
        health.storeActive(EndpointHealthState(healthy: false, consecutiveFailures: 3))
        var entry = OutlierDetector.Entry()
        entry.consecutiveFailures = 5
        entry.ejectedUntil = MonotonicClock.now() + 60_000_000_000
        health.ejections[0].mirror(entry)
    }

    @Test func statsListEveryTargetsEndpoints() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        Self.degrade(f.control)
        let stats = try Curl.request("GET", f.base + "/stats").json
        let routes = try #require(stats["routes"] as? [[String: Any]])
        let targets = try #require(routes[0]["targets"] as? [[String: Any]])
        let a = try #require(targets[0]["endpoints"] as? [[String: Any]])
        #expect(a.count == 1)
        #expect(a[0]["address"] as? String == "127.0.0.1:1")
        #expect(a[0]["healthy"] as? Bool == false)
        #expect((a[0]["ejected_workers"] as? NSNumber)?.intValue == 1)
        #expect((a[0]["consecutive_failures"] as? NSNumber)?.intValue == 3)
        #expect((a[0]["passive_consecutive_failures"] as? NSNumber)?.intValue == 5)
        let b = try #require(targets[1]["endpoints"] as? [[String: Any]])
        #expect(b.first?["healthy"] as? Bool == true)
        #expect((b.first?["ejected_workers"] as? NSNumber)?.intValue == 0)
        let global = try #require(stats["global"] as? [String: Any])
        #expect(global["endpoint_ejections"] != nil && global["no_healthy_upstream"] != nil)
    }

    @Test func metricsExportEndpointHealthGauges() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        Self.degrade(f.control)
        let body = try Curl.request("GET", f.base + "/metrics").body
        #expect(body.contains("# TYPE sluice_endpoint_healthy gauge"))
        #expect(body.contains("sluice_endpoint_healthy{backend=\"a\",endpoint=\"127.0.0.1:1\"} 0"), "\(body)")
        #expect(body.contains("sluice_endpoint_healthy{backend=\"b\",endpoint=\"127.0.0.1:2\"} 1"))
        #expect(body.contains("sluice_endpoint_ejected_workers{backend=\"a\",endpoint=\"127.0.0.1:1\"} 1"))
        #expect(body.contains("sluice_endpoint_ejections_total"))
    }
}
