import SluiceDemo
import Testing

/// `sluice stats` prints the fleet line when /stats has a `fleet` object.
struct FleetLineTests {
    @Test func fleetLineNamesLeaderMembersAndGeneration() throws {
        let body = """
        {"uptime_seconds": 3, "config_version": 1, "fleet": {"name": "fraud-prod", "instance": "pod-a", "connected": true,
         "leader": "pod-b", "is_leader": false, "members": ["pod-a", "pod-b", "pod-c"], "generation": 12}, "routes": []}
        """
        let text = try #require(StatsReport.render(body: Array(body.utf8)))
        #expect(text.contains("fleet fraud-prod · instance pod-a · connected · leader pod-b · 3 members (pod-a, pod-b, pod-c) · generation 12"), "\(text)")
        let cut = """
        {"fleet": {"name": "f", "instance": "a", "connected": false, "leader": null, "is_leader": false, "members": [], "generation": 0}, "routes": []}
        """
        #expect(try #require(StatsReport.render(body: Array(cut.utf8))).contains("DISCONNECTED from etcd · leader none · 0 members"))
    }

    @Test func standaloneHasNoFleetLine() throws {
        let text = try #require(StatsReport.render(body: Array(#"{"fleet": null, "routes": []}"#.utf8)))
        #expect(!text.contains("fleet "))
    }
}
