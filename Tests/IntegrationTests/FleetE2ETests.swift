import Foundation
import Glibc
import SluiceDemo
import Testing

extension Integration {
    /// Three `sluice run` replicas sharing one etcd (docs/fleet.md): operator actions anywhere apply everywhere.
    @Suite struct Fleet {
        /// A weights POST on one replica: every replica serves the new split within 1 s, observed at the
        /// backends, and answers with the same generation.
        @Test(.timeLimit(.minutes(1)))
        func postOnOneReplicaAppliesEverywhere() throws {
            let h = try FleetHarness()
            defer { h.stop() }
            let leader = try #require(h.waitForLeader(), "no leader: \(h.replicas.map { $0.log.suffix(1500) })")
            #expect(["r0", "r1", "r2"].contains(leader))
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } }, "no fleet state: \(h.routeGenerations())")

            let clients = h.replicas.map { SimpleHTTPClient(port: $0.port, timeoutSeconds: 5) }
            defer { clients.forEach { $0.close() } }
            for i in 0..<3 { #expect(h.probe(i, client: clients[i]) == "stable") }

            let canaryBefore = h.canary.requestsServed
            let r = try h.replicas[1].adminPost("/routes/models/weights", json: #"{"stable": 0, "canary": 100}"#)
            let posted = monotonicSeconds()
            #expect(r.status == 200, "\(r.text)")
            let generation = try #require(r.jsonObject()?["generation"] as? Int, "no generation in \(r.text)")
            var convergedAt = Array(repeating: Double.nan, count: 3)
            while monotonicSeconds() - posted < 3 && convergedAt.contains(where: \.isNaN) {
                for i in 0..<3 where convergedAt[i].isNaN {
                    if h.probe(i, client: clients[i]) == "canary" { convergedAt[i] = monotonicSeconds() - posted }
                }
            }
            print("fleet: weights POST on r1 applied on r0/r1/r2 after \(convergedAt.map { String(format: "%.3f s", $0) })")
            #expect(convergedAt.allSatisfy { $0 <= 1 }, "not every replica serves the new split within 1 s: \(convergedAt)")
            // Observed at the backends: once converged, only the canary answers.
            let stableBefore = h.stable.requestsServed
            for i in 0..<3 { for _ in 0..<10 { _ = h.probe(i, client: clients[i]) } }
            #expect(h.stable.requestsServed == stableBefore)
            #expect(h.canary.requestsServed >= canaryBefore + 30)
            #expect(eventually(2) { h.routeGenerations().allSatisfy { $0 == generation } }, "\(h.routeGenerations()) vs \(generation)")
            let gens = h.replicas.indices.map { h.fleet($0)["generation"] as? Int }
            #expect(gens.allSatisfy { $0 == generation })

            // /metrics and the log.
            let metrics = try h.replicas[0].adminGet("/metrics").text
            #expect(metrics.contains("sluice_fleet_members{fleet=\"\(h.fleetName)\",instance=\"r0\"} 3"), "\(metrics.suffix(800))")
            #expect(metrics.contains("sluice_fleet_generation{fleet=\"\(h.fleetName)\",instance=\"r0\"} \(generation)"))
            let leaderFlags = h.replicas.map { r in
                ((try? r.adminGet("/metrics").text) ?? "").split(separator: "\n").first { $0.hasPrefix("sluice_fleet_leader{") }
                    .flatMap { $0.split(separator: " ").last }.map(String.init)
            }
            #expect(leaderFlags.filter { $0 == "1" }.count == 1 && leaderFlags.filter { $0 == "0" }.count == 2, "\(leaderFlags)")
            #expect(h.replicas[2].log.contains("fleet state applied"))
            #expect(h.replicas[2].log.contains("generation: \(generation)") || h.replicas[2].log.contains("generation=\(generation)"),
                    "\(h.replicas[2].log.suffix(2000))")
        }
    }
}
