import Foundation
import Glibc
import SluiceDemo
import SluiceSupport

/// A fleet of real `sluice run` processes sharing one real etcd, with a stable and a canary model server.
final class FleetHarness: @unchecked Sendable {
    // @unchecked: used from the test's thread only (the traffic loops have their own locks).
    let etcd: EtcdProcess
    let stable: ModelServer
    let canary: ModelServer
    var replicas: [SluiceProcess] = []
    let fleetName: String

    /// Starts etcd, the backends and `count` replicas named `r0`, `r1`, ... with `routeExtra` lines on the route
    /// and targets `weights` (stable, canary).
    init(count: Int = 3, weights: (Double, Double) = (100, 0), routeExtra: [String] = [], leaseTTL: String = "2s",
         publishEvery: String = "250ms", top: String = "") throws {
        etcd = try EtcdProcess()
        stable = try startModelServer("stable")
        canary = try startModelServer("canary")
        fleetName = "t\(UInt32.random(in: 0...UInt32.max))"
        for i in 0..<count {
            replicas.append(try SluiceProcess(yaml: yaml(weights: weights, routeExtra: routeExtra, leaseTTL: leaseTTL, publishEvery: publishEvery) + top,
                                              arguments: ["--instance", "r\(i)"]))
        }
    }

    /// The config every replica runs (ports filled in per process).
    func yaml(weights: (Double, Double), routeExtra: [String], leaseTTL: String = "2s", publishEvery: String = "250ms") -> String {
        e2eYAML(workers: 1, backends: [("stable", stable.port), ("canary", canary.port)],
                targets: [("stable", weights.0), ("canary", weights.1)], routeExtra: routeExtra)
            + "fleet:\n  name: \(fleetName)\n  etcd: { endpoints: [\"\(etcd.endpoint)\"] }\n  lease_ttl: \(leaseTTL)\n  publish_every: \(publishEvery)\n"
    }

    /// Starts one more replica (named `r<count>`) running `yaml`.
    func addReplica(yaml: String) throws {
        replicas.append(try SluiceProcess(yaml: yaml, arguments: ["--instance", "r\(replicas.count)"]))
    }

    func stop() {
        for r in replicas { r.stop(grace: 3) }
        for r in replicas { r.removeFiles() }
        stable.stop()
        canary.stop()
        etcd.stop()
    }

    /// `/stats`'s `fleet` object of replica `i`.
    func fleet(_ i: Int) -> [String: Any] {
        ((try? replicas[i].stats())?["fleet"] as? [String: Any]) ?? [:]
    }

    /// Waits until every replica is connected, sees `replicas.count` members and agrees on a leader; returns it.
    func waitForLeader(seconds: Double = 15) -> String? {
        var leader: String?
        _ = eventually(seconds) {
            let f = replicas.indices.map { fleet($0) }
            let leaders = Set(f.compactMap { $0["leader"] as? String })
            guard f.allSatisfy({ ($0["connected"] as? Bool) == true && ($0["members"] as? [String])?.count == replicas.count }),
                  leaders.count == 1 else { return false }
            leader = leaders.first
            return true
        }
        return leader
    }

    /// The `fleet.generation` of every replica's route `models`.
    func routeGenerations() -> [Int?] {
        replicas.map { r in
            ((try? r.routeStats("models"))?["fleet"] as? [String: Any])?["generation"] as? Int
        }
    }

    /// Sends one request through replica `i`; returns the backend that answered (`x-sluice-target`).
    func probe(_ i: Int, client: SimpleHTTPClient) -> String {
        (try? client.request("GET", "/echo", collectBody: false))?.header("x-sluice-target") ?? "error"
    }
}

/// The `p`-th percentile (0...1) of `values` (nearest rank).
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
