import Foundation
import Glibc
import SluiceDemo
import Testing

extension Integration {
    /// The rollout controller in a real `sluice run` process: automatic rollback on errors and on
    /// latency, and a progressive canary running to promotion.
    @Suite struct PolicyRollout {
        static let rollbackSpec = "rollback: { window: 10s, evaluate_every: 1s, min_requests: 20, max_error_rate: 0.05, max_p99_latency: 250ms, breaches_to_trip: 3 }"

        /// 90/10 with ~200 req/s; at 2 s the canary turns bad (`spoil`); measures how long until it
        /// stops getting requests, and checks /stats, /metrics and the log.
        static func rollbackScenario(spoil: (ModelServer) -> Void, reasonMentions: String) throws {
            let stable = try startModelServer("stable"), canary = try startModelServer("canary")
            defer { stable.stop(); canary.stop() }
            let yaml = e2eYAML(backends: [("stable", stable.port), ("canary", canary.port)],
                               targets: [("stable", 90), ("canary", 10)], routeExtra: [rollbackSpec])
            let p = try SluiceProcess(yaml: yaml)
            defer { p.stop(); p.removeFiles() }

            let traffic = TrafficLoop(port: p.port, threads: 8, perThreadRate: 25)
            var trafficStopped = false
            defer { if !trafficStopped { traffic.stop() } }
            usleep(2_000_000)
            let spoiledAt = monotonicSeconds()
            spoil(canary)

            var state = ""
            var route: [String: Any] = [:]
            while monotonicSeconds() - spoiledAt < 20 {
                route = (try? p.routeStats("models")) ?? [:]
                state = route["state"] as? String ?? ""
                if state == "rolled_back" { break }
                usleep(100_000)
            }
            let rolledBackSeenAt = monotonicSeconds()
            usleep(1_500_000)
            traffic.stop()
            trafficStopped = true
            let samples = traffic.samples.value

            #expect(state == "rolled_back", "route state \(state) 20 s after the canary turned bad: \(route)")
            let canaryTimes = samples.filter { $0.target == "canary" }.map(\.sent)
            let beforeSpoil = canaryTimes.filter { $0 < spoiledAt }.count
            #expect(beforeSpoil > 10, "canary got only \(beforeSpoil) requests before it turned bad")
            if let last = canaryTimes.max() {
                let took = last - spoiledAt
                #expect(took <= 15, "canary still received requests \(took) s after it turned bad")
                print("rollback (\(reasonMentions)): canary's last request \(String(format: "%.2f", took)) s after it turned bad")
            }
            let lateCanary = samples.filter { $0.target == "canary" && $0.sent > rolledBackSeenAt + 0.3 }
            #expect(lateCanary.isEmpty, "\(lateCanary.count) requests reached the canary after the rollback")
            let failures = samples.filter { $0.error != nil }
            #expect(failures.isEmpty, "\(failures.count) client failures, e.g. \(failures.prefix(3))")
            let stable5xx = samples.filter { $0.target != "canary" && $0.status >= 500 }
            #expect(stable5xx.isEmpty, "\(stable5xx.count) 5xx not from the canary, e.g. \(stable5xx.prefix(3))")
            #expect(samples.filter { $0.target == "stable" }.count > 500)

            let reason = route["reason"] as? String ?? ""
            #expect(reason.contains(reasonMentions), "rollback reason '\(reason)' does not mention \(reasonMentions)")
            let events = (route["events"] as? [[String: Any]]) ?? []
            let rollbacks = events.filter { $0["type"] as? String == "rollback" }
            #expect(!rollbacks.isEmpty, "no rollback event in \(events)")
            #expect(try p.weights("models") == ["stable": 100, "canary": 0])

            let metrics = try p.adminGet("/metrics").text
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("sluice_rollbacks_total{") && $0.contains("route=\"models\"") }
            let count = line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
            #expect(count >= 1, "sluice_rollbacks_total for route models: \(line.map(String.init) ?? "missing")")

            let log = p.log
            let warning = log.split(separator: "\n").first { $0.contains("warning") && $0.contains("rolling back") }
            #expect(warning != nil, "no rollback warning in the log:\n\(log.suffix(3000))")
        }

        /// The canary starts failing every request: rolled back within 15 s, reason "error rate".
        @Test(.timeLimit(.minutes(1)))
        func errorRateTripsAutomaticRollback() throws {
            try Self.rollbackScenario(spoil: { $0.setBehavior(ModelBehavior(modelVersion: "canary", errorRate: 1.0)) },
                                      reasonMentions: "error rate")
        }

        /// The canary turns slow (400 ms per request, threshold 250 ms): rolled back within 15 s, reason "p99".
        @Test(.timeLimit(.minutes(1)))
        func p99LatencyTripsAutomaticRollback() throws {
            try Self.rollbackScenario(spoil: { $0.setBehavior(ModelBehavior(modelVersion: "canary", baseLatencyMicros: 400_000)) },
                                      reasonMentions: "p99")
        }

        /// progressive {steps [10, 50, 100], interval 1s}: promoted within ~5 s, all traffic on the
        /// canary, the steps recorded as events.
        @Test(.timeLimit(.minutes(1)))
        func progressiveCanaryRunsToPromotion() throws {
            let stable = try startModelServer("stable"), canary = try startModelServer("canary")
            defer { stable.stop(); canary.stop() }
            let yaml = e2eYAML(backends: [("stable", stable.port), ("canary", canary.port)],
                               targets: [("stable", 100), ("canary", 0)],
                               routeExtra: ["progressive: { target: canary, steps: [10, 50, 100], interval: 1s }"])
            let p = try SluiceProcess(yaml: yaml)
            defer { p.stop(); p.removeFiles() }
            let started = monotonicSeconds()
            let traffic = TrafficLoop(port: p.port, threads: 2, perThreadRate: 50)
            var trafficStopped = false
            defer { if !trafficStopped { traffic.stop() } }

            var state = ""
            var seenWeights: [Double] = []
            while monotonicSeconds() - started < 8 {
                let route = (try? p.routeStats("models")) ?? [:]
                state = route["state"] as? String ?? ""
                if let w = try? p.weights("models")["canary"], seenWeights.last != w { seenWeights.append(w) }
                if state == "promoted" { break }
                usleep(50_000)
            }
            let took = monotonicSeconds() - started
            #expect(state == "promoted", "route state \(state) after \(took) s; canary weights seen \(seenWeights)")
            #expect(took <= 5.5, "promotion took \(took) s for 3 steps of 1 s")
            #expect(try p.weights("models") == ["stable": 0, "canary": 100])
            #expect(seenWeights.contains(50), "never saw the 50 % step: \(seenWeights)")

            let settled = monotonicSeconds()
            usleep(500_000)
            traffic.stop()
            trafficStopped = true
            let samples = traffic.samples.value
            #expect(samples.allSatisfy { $0.status == 200 && $0.error == nil }, "failures: \(samples.filter { $0.status != 200 }.prefix(3))")
            let late = samples.filter { $0.sent > settled + 0.2 }
            #expect(!late.isEmpty && late.allSatisfy { $0.target == "canary" }, "after promotion: \(Set(late.map(\.target)))")
            #expect(samples.contains { $0.target == "stable" } && canary.requestsServed > 0)

            let events = (try p.routeStats("models")["events"] as? [[String: Any]]) ?? []
            let steps = events.filter { $0["type"] as? String == "weight_change" && $0["target"] as? String == "canary" }
            let reasons = steps.compactMap { $0["reason"] as? String }
            #expect(reasons.contains { $0.contains("50") }, "no weight_change event for the 50 % step: \(events)")
            #expect(events.contains { $0["type"] as? String == "promotion" && ($0["reason"] as? String ?? "").contains("100") },
                    "no promotion event: \(events)")
        }
    }
}
