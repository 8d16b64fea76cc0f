import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
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
    
        /// 100 weight changes, each POSTed on one replica in turn: how long until every replica routes to the
        /// new target (p50/p99 over every replica and change).
        @Test(.timeLimit(.minutes(2)))
        func convergenceOverAHundredChanges() throws {
            let h = try FleetHarness()
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } })
            let clients = h.replicas.map { SimpleHTTPClient(port: $0.port, timeoutSeconds: 5) }
            defer { clients.forEach { $0.close() } }
            var times: [Double] = []
            var failures = 0
            for change in 0..<100 {
                let target = change % 2 == 0 ? "canary" : "stable"
                let body = target == "canary" ? #"{"stable": 0, "canary": 100}"# : #"{"stable": 100, "canary": 0}"#
                let r = try h.replicas[change % 3].adminPost("/routes/models/weights", json: body)
                let posted = monotonicSeconds()
                if r.status != 200 { failures += 1; continue }
                var done = Array(repeating: false, count: 3)
                while monotonicSeconds() - posted < 3 && done.contains(false) {
                    for i in 0..<3 where !done[i] && h.probe(i, client: clients[i]) == target {
                        done[i] = true
                        times.append(monotonicSeconds() - posted)
                    }
                }
                if done.contains(false) { times.append(.infinity) }
            }
            let p50 = percentile(times, 0.5), p99 = percentile(times, 0.99), worst = times.max() ?? .nan
            print("fleet convergence over 100 changes x 3 replicas: p50 \(String(format: "%.1f", p50 * 1000)) ms, p99 \(String(format: "%.1f", p99 * 1000)) ms, max \(String(format: "%.1f", worst * 1000)) ms")
            #expect(failures == 0)
            #expect(p99 <= 1, "p99 convergence \(p99) s")
        }

        /// Sticky users land on the same arm on every replica, before and after a fleet-wide weight change.
        @Test(.timeLimit(.minutes(1)))
        func stickyUsersAgreeOnEveryReplica() throws {
            let h = try FleetHarness(weights: (50, 50), routeExtra: ["sticky: { header: x-user-id, salt: fleet-ab-1 }"])
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } })
            let keys = (0..<200).map { "user-\($0)" }
            for weights in [nil, #"{"stable": 80, "canary": 20}"#, #"{"stable": 10, "canary": 90}"#] {
                if let weights {
                    let r = try h.replicas[2].adminPost("/routes/models/weights", json: weights)
                    #expect(r.status == 200, "\(r.text)")
                    let g = r.jsonObject()?["generation"] as? Int
                    #expect(eventually(2) { h.routeGenerations().allSatisfy { $0 == g } })
                }
                let arms = h.replicas.map { stickyTargets(port: $0.port, keys: keys) }
                #expect(arms[0] == arms[1] && arms[1] == arms[2], "replicas disagree at \(weights ?? "start")")
                #expect(Set(arms[0]) == ["stable", "canary"], "\(Set(arms[0]))")
            }
        }

        /// Webhooks: the rollback verdict is notified once for the whole fleet (by the replica that wrote it),
        /// although every replica has the same `notify` entry and applies the verdict.
        @Test(.timeLimit(.minutes(1)))
        func verdictIsNotifiedOnceForTheFleet() throws {
            let log = NSTemporaryDirectory() + "sluice-fleet-hook-\(UUID().uuidString).jsonl"
            defer { try? FileManager.default.removeItem(atPath: log) }
            let receiver = try PythonServer(script: """
                import http.server, sys, threading
                lock = threading.Lock()
                class H(http.server.BaseHTTPRequestHandler):
                    def do_POST(self):
                        body = self.rfile.read(int(self.headers.get('content-length', 0)))
                        with lock, open(sys.argv[1], 'ab') as f:
                            f.write(body + b'\\n')
                        self.send_response(204)
                        self.send_header('content-length', '0')
                        self.end_headers()
                    def log_message(self, *a): pass
                s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
                print(s.server_address[1], flush=True)
                s.serve_forever()
                """, arguments: [log])
            defer { receiver.stop() }
            let hookPort = try #require(receiver.port)

            let h = try FleetHarness(weights: (90, 10), routeExtra: [Self.rollbackSpec],
                                     top: "notify: [{ url: \"http://127.0.0.1:\(hookPort)/hook\", events: [rolled_back] }]\n")
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } })
            let traffic = h.replicas.map { TrafficLoop(port: $0.port, threads: 2, perThreadRate: 30) }
            defer { traffic.forEach { $0.stop() } }
            usleep(1_000_000)
            h.canary.setBehavior(ModelBehavior(modelVersion: "canary", errorRate: 1.0))
            #expect(eventually(15) { h.replicas.allSatisfy { (try? $0.routeStats("models"))?["state"] as? String == "rolled_back" } })
            #expect(eventually(5) { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("rolled_back") })
            usleep(2_000_000)
            let bodies = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("rolled_back") }
            #expect(bodies.count == 1, "\(bodies.count) rolled_back notifications: \(bodies)")
        }

        static let rollbackSpec = "rollback: { window: 10s, evaluate_every: 1s, min_requests: 20, max_error_rate: 0.05, breaches_to_trip: 2 }"

        /// A canary failing on every replica: one verdict written by the leader, the same generation on all
        /// three, and no canary traffic anywhere within 15 s.
        @Test(.timeLimit(.minutes(1)))
        func failingCanaryGetsOneVerdict() throws {
            let h = try FleetHarness(weights: (90, 10), routeExtra: [Self.rollbackSpec])
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } })
            let traffic = h.replicas.map { TrafficLoop(port: $0.port, threads: 2, perThreadRate: 30) }
            var stopped = false
            defer { if !stopped { traffic.forEach { $0.stop() } } }
            usleep(1_500_000)
            let spoiledAt = monotonicSeconds()
            h.canary.setBehavior(ModelBehavior(modelVersion: "canary", errorRate: 1.0))
            let allRolledBack = eventually(15) {
                h.replicas.allSatisfy { (try? $0.routeStats("models"))?["state"] as? String == "rolled_back" }
            }
            let seenAt = monotonicSeconds()
            usleep(1_000_000)
            traffic.forEach { $0.stop() }
            stopped = true
            #expect(allRolledBack, "states: \(h.replicas.map { (try? $0.routeStats("models"))?["state"] as? String ?? "?" })")
            let gens = h.routeGenerations()
            #expect(Set(gens.compactMap { $0 }).count == 1 && !gens.contains(nil), "generations \(gens)")
            // One verdict: exactly one rolled_back state was written, by the leader.
            let writes = h.replicas.map { $0.log.split(separator: "\n").filter { $0.contains("fleet state changed") && $0.contains("rolled_back") }.count }
            #expect(writes.reduce(0, +) == 1, "rolled_back written \(writes) times")
            var last = 0.0
            for (i, t) in traffic.enumerated() {
                let samples = t.samples.value
                #expect(samples.filter { $0.error != nil }.isEmpty)
                let late = samples.filter { $0.target == "canary" && $0.sent > seenAt + 0.3 }
                #expect(late.isEmpty, "replica \(i): \(late.count) canary requests after the verdict")
                last = max(last, samples.filter { $0.target == "canary" }.map(\.sent).max() ?? 0)
            }
            print("fleet verdict: canary's last request on any replica \(String(format: "%.2f", last - spoiledAt)) s after it turned bad")
            #expect(last - spoiledAt <= 15)
            let reason = (try? h.replicas[0].routeStats("models"))?["reason"] as? String ?? ""
            #expect(reason.contains("error rate"), "\(reason)")
        }

        /// Each replica sees fewer canary requests than `min_requests`, the fleet more: only the merged
        /// numbers can judge, and they roll the canary back.
        @Test(.timeLimit(.minutes(1)))
        func belowMinRequestsPerReplicaButNotFleetWide() throws {
            let spec = "rollback: { window: 6s, evaluate_every: 1s, min_requests: 40, max_error_rate: 0.05, breaches_to_trip: 1 }"
            let h = try FleetHarness(weights: (50, 50), routeExtra: [spec])
            defer { h.stop() }
            _ = try #require(h.waitForLeader())
            #expect(eventually(5) { h.routeGenerations().allSatisfy { $0 != nil } })
            h.canary.setBehavior(ModelBehavior(modelVersion: "canary", errorRate: 1.0))
            // ~7 req/s per replica: ~3.5 canary req/s each, ~21 in a 6 s window (< 40); ~63 fleet-wide
            // (> 40). (At 5 req/s the fleet-wide ~45 left too little margin: a loaded machine that
            // sent 20 % less made the window hold 36 and the verdict inconclusive.)
            let traffic = h.replicas.map { TrafficLoop(port: $0.port, threads: 1, perThreadRate: 7) }
            defer { traffic.forEach { $0.stop() } }
            var localMax: UInt64 = 0
            let rolledBack = eventually(20) {
                for r in h.replicas {
                    let targets = ((try? r.routeStats("models"))?["targets"] as? [[String: Any]]) ?? []
                    for t in targets where t["backend"] as? String == "canary" {
                        localMax = max(localMax, ((t["window"] as? [String: Any])?["requests"] as? NSNumber)?.uint64Value ?? 0)
                    }
                }
                return h.replicas.allSatisfy { (try? $0.routeStats("models"))?["state"] as? String == "rolled_back" }
            }
            let route = (try? h.replicas[0].routeStats("models")) ?? [:]
            #expect(rolledBack, "not rolled back: \(route)")
            #expect(localMax < 40, "a replica saw \(localMax) canary requests in its own window")
            let reason = route["reason"] as? String ?? ""
            print("fleet-wide verdict below per-replica min_requests: local canary windows at most \(localMax) requests; reason: \(reason)")
            #expect(reason.contains("error rate"))
            // Every replica's /stats shows the merged fleet window next to its local one.
            func fleetCanaryRequests(_ i: Int) -> Int {
                let fleet = (try? h.replicas[i].routeStats("models"))?["fleet"] as? [String: Any]
                let targets = (fleet?["window"] as? [String: Any])?["targets"] as? [[String: Any]] ?? []
                return targets.first { $0["backend"] as? String == "canary" }?["requests"] as? Int ?? -1
            }
            #expect(eventually(3) { h.replicas.indices.allSatisfy { fleetCanaryRequests($0) >= 40 } },
                    "\(h.replicas.indices.map(fleetCanaryRequests))")
        }
    }
}
