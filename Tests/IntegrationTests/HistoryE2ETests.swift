import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// `GET /stats/history` from a real `sluice run`: every finished exchange is counted in exactly one
    /// second, one sample per second, and `?since` returns only newer samples.
    @Suite struct HistoryE2E {
        @Test(.timeLimit(.minutes(1)))
        func historyCountsEveryRequestOnceAtOneSamplePerSecond() throws {
            let a = try startModelServer("a"), b = try startModelServer("b")
            defer { a.stop(); b.stop() }
            let p = try SluiceProcess(yaml: e2eYAML(backends: [("a", a.port), ("b", b.port)], targets: [("a", 70), ("b", 30)]))
            defer { p.stop(); p.removeFiles() }
            let client = SimpleHTTPClient(port: p.port, timeoutSeconds: 5)
            var statuses: [Int: Int] = [:]
            for _ in 0..<137 {
                statuses[try client.request("GET", "/echo").status, default: 0] += 1
                usleep(10_000)
            }
            client.close()
            #expect(statuses == [200: 137])
            usleep(2_200_000)  // the last second ends and the tick records it

            let history = try p.adminGet("/stats/history").jsonObject() ?? [:]
            let samples = (history["samples"] as? [[String: Any]]) ?? []
            #expect(history["capacity"] as? Int == 600)
            #expect(samples.count >= 3)
            let seqs = samples.compactMap { $0["seq"] as? Int }
            #expect(seqs == Array((seqs.first ?? 1)..<((seqs.first ?? 1) + seqs.count)), "sequence numbers not consecutive: \(seqs)")
            let times = samples.compactMap { ($0["time"] as? NSNumber)?.doubleValue }
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 > 0.9 && $0 < 1.1 }, "samples are not one second apart: \(gaps)")
            var perTarget: [String: Int] = [:]
            for s in samples {
                for r in (s["routes"] as? [[String: Any]]) ?? [] where r["name"] as? String == "models" {
                    for t in (r["targets"] as? [[String: Any]]) ?? [] {
                        perTarget[t["backend"] as? String ?? "?", default: 0] += t["requests"] as? Int ?? 0
                        #expect(t["errors"] as? Int == 0)
                    }
                }
            }
            let fromStats = try p.routeStats("models")["targets"] as? [[String: Any]] ?? []
            let totals = Dictionary(uniqueKeysWithValues: fromStats.map { ($0["backend"] as? String ?? "?", $0["requests"] as? Int ?? -1) })
            #expect(perTarget["a", default: 0] + perTarget["b", default: 0] == 137, "history counts \(perTarget)")
            #expect(perTarget == totals, "history \(perTarget) vs /stats \(totals)")

            let latest = history["latest"] as? Int ?? 0
            let newer = try p.adminGet("/stats/history?since=\(latest)").jsonObject() ?? [:]
            let newerSeqs = ((newer["samples"] as? [[String: Any]]) ?? []).compactMap { $0["seq"] as? Int }
            #expect(newerSeqs.allSatisfy { $0 > latest } && newerSeqs.count <= 2, "since=\(latest) answered \(newerSeqs)")
        }
    }
}
