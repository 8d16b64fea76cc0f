import Foundation
import Glibc
import SluiceDemo
import Testing

extension Integration {
    /// Webhooks from a real `sluice run`: a local receiver (Python, real sockets) gets every rollout
    /// event once, in order, with its JSON body, even when its first answer is a 500.
    @Suite struct NotificationE2E {
        /// Prints its port, then appends each POST's body (one line) to the file in argv[1];
        /// answers 500 to the very first request, 204 to the others.
        static let receiver = """
            import http.server, sys, threading
            path = sys.argv[1]
            lock = threading.Lock()
            seen = [0]
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('content-length', 0)))
                    with lock:
                        seen[0] += 1
                        first = seen[0] == 1
                        if not first:
                            with open(path, 'ab') as f:
                                f.write(self.headers.get('content-type', '').encode() + b'\\t' + self.headers.get('x-sluice-delivery', '').encode() + b'\\t' + body + b'\\n')
                    self.send_response(500 if first else 204)
                    self.send_header('content-length', '0')
                    self.end_headers()
                def log_message(self, *a): pass
            s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """

        @Test func everyEventReachesTheReceiverOnce() throws {
            let log = NSTemporaryDirectory() + "sluice-webhook-\(UUID().uuidString).jsonl"
            defer { try? FileManager.default.removeItem(atPath: log) }
            let receiver = try PythonServer(script: Self.receiver, arguments: [log])
            defer { receiver.stop() }
            let hookPort = try #require(receiver.port)

            let stable = try startModelServer("stable"), canary = try startModelServer("canary")
            defer { stable.stop(); canary.stop() }
            var yaml = e2eYAML(backends: [("stable", stable.port), ("canary", canary.port)],
                               targets: [("stable", 100), ("canary", 0)], routeExtra: [
                                "progressive: { target: canary, steps: [10, 50, 100], interval: 1s, gates: [{ at: 50, approval: manual }] }",
                                "rollback: { window: 5s, evaluate_every: 500ms, min_requests: 5, max_error_rate: 0.5 }",
                               ])
            yaml += "notify:\n  - { url: \"http://127.0.0.1:\(hookPort)/hooks\", timeout: 1s }\n"
            let p = try SluiceProcess(yaml: yaml)
            defer { p.stop(); p.removeFiles() }
            let traffic = TrafficLoop(port: p.port, threads: 4, perThreadRate: 25)
            defer { traffic.stop() }

            func waitFor(_ state: String, within seconds: Double) -> Bool {
                let deadline = monotonicSeconds() + seconds
                while monotonicSeconds() < deadline {
                    if (try? p.routeStats("models"))?["state"] as? String == state { return true }
                    usleep(100_000)
                }
                return false
            }
            #expect(waitFor("awaiting_approval", within: 20))
            #expect(try p.adminPost("/routes/models/approve").status == 200)
            #expect(waitFor("promoted", within: 20))
            #expect(try p.adminPost("/routes/models/rollback", json: "{\"reason\": \"test over\"}").status == 200)

            // `inconclusive` may come in between (a step due before its first passing evaluation): at most once.
            let expected = ["step", "awaiting_approval", "approved", "step", "promoted", "rolled_back"]
            var rows: [(contentType: String, delivery: String, body: [String: Any])] = []
            func readRows() -> [(contentType: String, delivery: String, body: [String: Any])] {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").compactMap { line in
                    let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                    guard parts.count == 3,
                          let body = try? JSONSerialization.jsonObject(with: Data(parts[2].utf8)) as? [String: Any] else { return nil }
                    return (String(parts[0]), String(parts[1]), body)
                }
            }
            let deadline = monotonicSeconds() + 10
            while monotonicSeconds() < deadline {
                rows = readRows()
                if rows.filter({ $0.body["event"] as? String != "inconclusive" }).count >= expected.count { break }
                usleep(100_000)
            }
            usleep(1_500_000)   // a duplicate would arrive within the retry back-off
            rows = readRows()
            let events = rows.map { $0.body["event"] as? String ?? "?" }
            #expect(events.filter { $0 != "inconclusive" } == expected, "\(events)")
            #expect(events.filter { $0 == "inconclusive" }.count <= 1)
            #expect(Set(rows.map(\.delivery)).count == rows.count, "each event exactly once (distinct delivery ids)")
            #expect(rows.allSatisfy { $0.contentType == "application/json" })
            let bodies = rows.map(\.body)
            #expect(bodies.allSatisfy { $0["route"] as? String == "models" })
            let steps = bodies.filter { $0["event"] as? String == "step" }.compactMap { $0["reason"] as? String }
            #expect(steps.first?.contains("canary at 10%") == true, "\(steps)")
            #expect(bodies.last?["reason"] as? String == "test over")
            #expect(bodies.last?["state"] as? String == "rolled_back")
            let generations = bodies.compactMap { ($0["generation"] as? NSNumber)?.intValue }
            #expect(generations == generations.sorted(), "generations never go back: \(generations)")
            let evaluated = bodies.first { $0["event"] as? String == "promoted" }?["evaluation"] as? [String: Any]
            #expect(evaluated?["outcome"] as? String == "passed")

            let metrics = try p.adminGet("/metrics").text
            #expect(metrics.contains("sluice_notifications_sent_total \(rows.count)"), "\(metrics.split(separator: "\n").filter { $0.contains("notification") })")
            #expect(metrics.contains("sluice_notification_failures_total 1"))
        }
    }
}
