import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// Fleet failures: the leader killed mid-rollout, etcd stopped under load, replicas with different configs.
    @Suite struct FleetFailures {
        /// The canary's weight on replica `i` (percent), or nil when /stats does not answer.
        static func canaryWeight(_ h: FleetHarness, _ i: Int) -> Double? {
            (try? h.replicas[i].weights("models"))?["canary"]
        }

        /// The leader is SIGKILLed right after a progressive step: another replica leads within lease_ttl + 1 s,
        /// and the schedule goes on with no skipped and no doubled step.
        @Test(.timeLimit(.minutes(1)))
        func leaderKilledDuringProgressiveRollout() throws {
            let interval = 3.0
            let h = try FleetHarness(weights: (100, 0),
                                     routeExtra: ["progressive: { target: canary, steps: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], interval: 3s }"])
            defer { h.stop() }
            let leader = try #require(h.waitForLeader())
            let li = Int(leader.dropFirst())!
            let watcher = (li + 1) % 3
            // Wait for the step to 20 %, then kill the leader at once.
            var timeline: [(Double, Double)] = []
            func sample() {
                if let w = Self.canaryWeight(h, watcher), timeline.last?.1 != w { timeline.append((monotonicSeconds(), w)) }
            }
            #expect(eventually(15) { sample(); return timeline.last?.1 == 20 }, "\(timeline)")
            h.replicas[li].killHard()
            let killedAt = monotonicSeconds()
            var newLeader: String?
            var failover = Double.nan
            while monotonicSeconds() - killedAt < 10 {
                sample()
                let f = h.fleet(watcher)
                if let l = f["leader"] as? String, l != leader, (f["members"] as? [String])?.contains(leader) == false || true {
                    if l != leader { newLeader = l; failover = monotonicSeconds() - killedAt; break }
                }
                usleep(20_000)
            }
            print("fleet failover: new leader \(newLeader ?? "none") \(String(format: "%.2f", failover)) s after the leader was killed (lease_ttl 2s)")
            #expect(newLeader != nil)
            #expect(failover <= 3, "failover took \(failover) s")
            // Follow the schedule for a few more steps.
            let until = monotonicSeconds() + 3 * interval + 1
            while monotonicSeconds() < until { sample(); usleep(50_000) }
            let weights = timeline.map(\.1)
            print("fleet steps seen on r\(watcher): \(timeline.map { String(format: "%.1fs:%g", $0.0 - timeline[0].0, $0.1) })")
            for k in 1..<weights.count {
                #expect(weights[k] - weights[k - 1] == 10, "skipped or doubled step: \(weights)")
            }
            for k in 2..<timeline.count {
                let gap = timeline[k].0 - timeline[k - 1].0
                #expect(gap >= interval - 0.4, "two steps \(gap) s apart (interval \(interval) s): \(timeline)")
            }
            #expect((weights.last ?? 0) >= 40, "the schedule did not go on: \(weights)")
            let gens = h.routeGenerations().enumerated().filter { $0.offset != li }.map(\.element)
            #expect(Set(gens.compactMap { $0 }).count == 1, "\(gens)")
        }

        /// etcd stopped for a while under load: no failed request, every replica keeps its state and takes no
        /// step, /stats says `connected: false`, POSTs answer 503; after the restart the replicas resync.
        @Test(.timeLimit(.minutes(2)))
        func etcdStoppedUnderLoad() throws {
            let outage = Double(ProcessInfo.processInfo.environment["SLUICE_FLEET_OUTAGE_SECONDS"] ?? "") ?? 20
            let h = try FleetHarness(weights: (100, 0),
                                     routeExtra: ["progressive: { target: canary, steps: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100], interval: 2s }"])
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            let traffic = h.replicas.map { TrafficLoop(port: $0.port, threads: 2, perThreadRate: 40) }
            var stopped = false
            defer { if !stopped { traffic.forEach { $0.stop() } } }
            #expect(eventually(10) { (Self.canaryWeight(h, 0) ?? 0) >= 20 })

            h.etcd.stop()
            let stoppedAt = monotonicSeconds()
            let disconnected = eventually(5) { h.replicas.indices.allSatisfy { h.fleet($0)["connected"] as? Bool == false } }
            #expect(disconnected, "\(h.replicas.indices.map { h.fleet($0) })")
            print("fleet: every replica reports connected=false \(String(format: "%.2f", monotonicSeconds() - stoppedAt)) s after etcd stopped")
            let frozen = h.replicas.indices.map { Self.canaryWeight(h, $0) }
            let refused = try h.replicas[0].adminPost("/routes/models/pause")
            #expect(refused.status == 503, "\(refused.status) \(refused.text)")
            #expect(refused.jsonObject()?["error"] as? String == "fleet_unavailable", "\(refused.text)")
            while monotonicSeconds() - stoppedAt < outage { usleep(200_000) }
            let after = h.replicas.indices.map { Self.canaryWeight(h, $0) }
            #expect(after == frozen, "a step advanced while etcd was down: \(frozen) -> \(after)")
            #expect(Set(after.compactMap { $0 }).count == 1, "replicas disagree during the outage: \(after)")

            try h.etcd.start()
            let restartedAt = monotonicSeconds()
            let resynced = eventually(15) {
                h.replicas.indices.allSatisfy { h.fleet($0)["connected"] as? Bool == true }
                    && Set(h.replicas.indices.compactMap { h.fleet($0)["leader"] as? String }).count == 1
            }
            #expect(resynced, "\(h.replicas.indices.map { h.fleet($0) })")
            print("fleet: resynced (connected, one leader) \(String(format: "%.2f", monotonicSeconds() - restartedAt)) s after etcd restarted")
            // Steps resume, the same on every replica.
            let base = after.first.flatMap { $0 } ?? 0
            #expect(eventually(10) { (Self.canaryWeight(h, 1) ?? 0) > base }, "no step after the restart")
            #expect(eventually(3) { Set(h.replicas.indices.compactMap { Self.canaryWeight(h, $0) }).count == 1 })
            traffic.forEach { $0.stop() }
            stopped = true
            let samples = traffic.flatMap { $0.samples.value }
            let failed = samples.filter { $0.error != nil || $0.status != 200 }
            print("fleet: \(samples.count) requests during the run with a \(Int(outage)) s etcd outage, \(failed.count) failed")
            #expect(failed.isEmpty, "\(failed.prefix(3))")
        }
    
        /// A rolling config update: two replicas with different definitions of the route do not fight (each keeps
        /// its own until it has the fleet's), and once both have the same config they converge without flapping.
        @Test(.timeLimit(.minutes(1)))
        func differentConfigsDoNotFight() throws {
            let specA = "rollback: { window: 10s, evaluate_every: 1s, min_requests: 20, max_error_rate: 0.05, breaches_to_trip: 2 }"
            let specB = "rollback: { window: 10s, evaluate_every: 1s, min_requests: 30, max_error_rate: 0.05, breaches_to_trip: 2 }"
            let h = try FleetHarness(count: 1, weights: (90, 10), routeExtra: [specA])
            defer { h.stop() }
            #expect(eventually(10) { h.fleet(0)["is_leader"] as? Bool == true })
            try h.addReplica(yaml: h.yaml(weights: (90, 10), routeExtra: [specB]))
            #expect(eventually(10) { (h.fleet(1)["members"] as? [String])?.count == 2 && h.fleet(1)["connected"] as? Bool == true })
            // r1's definition differs: it keeps its own state and refuses operator actions on the route.
            let refused = try h.replicas[1].adminPost("/routes/models/weights", json: #"{"stable": 50, "canary": 50}"#)
            #expect(refused.status == 409, "\(refused.text)")
            #expect(refused.text.contains("defined differently"))
            let ok = try h.replicas[0].adminPost("/routes/models/weights", json: #"{"stable": 80, "canary": 20}"#)
            #expect(ok.status == 200, "\(ok.text)")
            usleep(500_000)
            #expect(try h.replicas[1].weights("models") == ["stable": 90, "canary": 10])
            #expect(h.routeGenerations()[1] == nil)
            // r1 gets the fleet's config: it adopts the fleet state.
            try h.replicas[1].writeConfig(h.yaml(weights: (90, 10), routeExtra: [specA]))
            let reload = try h.replicas[1].adminPost("/reload")
            #expect(reload.status == 200, "\(reload.text)")
            #expect(eventually(3) { (try? h.replicas[1].weights("models")) == ["stable": 80, "canary": 20] },
                    "\((try? h.replicas[1].weights("models")) ?? [:])")
            #expect(eventually(3) { let g = h.routeGenerations(); return g[0] != nil && g[0] == g[1] }, "\(h.routeGenerations())")
            // No flapping: nothing changes in the next seconds.
            let generation = h.fleet(0)["generation"] as? Int
            usleep(2_500_000)
            #expect(h.fleet(0)["generation"] as? Int == generation)
            #expect(h.fleet(1)["generation"] as? Int == generation)
            #expect(try h.replicas[0].weights("models") == ["stable": 80, "canary": 20])
            #expect(try h.replicas[1].weights("models") == ["stable": 80, "canary": 20])
        }

        /// etcd down and the canary failing: each replica's local rules roll it back (the safety valve); when
        /// etcd returns the rollback is written to the fleet, never undone.
        @Test(.timeLimit(.minutes(1)))
        func localRollbackWhileDisconnectedReachesTheFleet() throws {
            let spec = "rollback: { window: 5s, evaluate_every: 1s, min_requests: 10, max_error_rate: 0.05, breaches_to_trip: 2 }"
            let h = try FleetHarness(count: 2, weights: (80, 20), routeExtra: [spec])
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } })
            let before = h.fleet(0)["generation"] as? Int ?? 0
            h.etcd.stop()
            #expect(eventually(5) { h.replicas.indices.allSatisfy { h.fleet($0)["connected"] as? Bool == false } })
            h.canary.setBehavior(ModelBehavior(modelVersion: "canary", errorRate: 1.0))
            let traffic = h.replicas.map { TrafficLoop(port: $0.port, threads: 2, perThreadRate: 20) }
            defer { traffic.forEach { $0.stop() } }
            let local = eventually(15) { h.replicas.allSatisfy { (try? $0.routeStats("models"))?["state"] as? String == "rolled_back" } }
            #expect(local, "no local rollback while etcd was down")
            #expect(h.replicas[0].log.contains("local rollback"))
            try h.etcd.start()
            #expect(eventually(10) {
                let g = h.routeGenerations()
                return g.allSatisfy { ($0 ?? 0) > before } && Set(g).count == 1
            }, "\(h.routeGenerations()) (before \(before))")
            usleep(1_000_000)
            for r in h.replicas {
                #expect((try? r.routeStats("models"))?["state"] as? String == "rolled_back")
                #expect(try r.weights("models") == ["stable": 100, "canary": 0])
            }
            let written = h.replicas.map { $0.log.contains("local rollback written to the fleet") }
            #expect(written.contains(true), "\(h.replicas.map { $0.log.suffix(1500) })")
        }
    
        /// A replica that joins later serves the fleet's state from its first request; one started while etcd
        /// is down becomes ready anyway (serving its configured state) and joins once etcd answers.
        @Test(.timeLimit(.minutes(1)))
        func joiningReplicas() throws {
            let h = try FleetHarness(count: 2, weights: (100, 0))
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            let r = try h.replicas[0].adminPost("/routes/models/weights", json: #"{"stable": 0, "canary": 100}"#)
            #expect(r.status == 200, "\(r.text)")
            try h.addReplica(yaml: h.yaml(weights: (100, 0), routeExtra: []))
            let client = SimpleHTTPClient(port: h.replicas[2].port, timeoutSeconds: 5)
            defer { client.close() }
            #expect(h.probe(2, client: client) == "canary", "the joining replica's first request did not follow the fleet state")

            h.etcd.stop()
            let started = monotonicSeconds()
            try h.addReplica(yaml: h.yaml(weights: (100, 0), routeExtra: []))
            let readyAfter = monotonicSeconds() - started
            print("fleet: a replica started with etcd down was ready after \(String(format: "%.2f", readyAfter)) s")
            #expect(readyAfter < 8)
            #expect(h.fleet(3)["connected"] as? Bool == false)
            let lone = SimpleHTTPClient(port: h.replicas[3].port, timeoutSeconds: 5)
            defer { lone.close() }
            #expect(h.probe(3, client: lone) == "stable", "serves its configured state while etcd is down")
            try h.etcd.start()
            #expect(eventually(10) { h.fleet(3)["connected"] as? Bool == true && (h.fleet(3)["members"] as? [String])?.count == 4 },
                    "\(h.fleet(3))")
            #expect(eventually(3) { h.probe(3, client: lone) == "canary" })
        }
    }
}
