import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// The real `sluice run` process: reloads under load (SIGHUP and POST /reload), SIGTERM drain,
    /// blue-green flips under load. Every test starts its own process and kills it on the way out.
    @Suite struct Lifecycle {
        static func splitYAML(a: UInt16, b: UInt16, weights: (Double, Double)) -> String {
            e2eYAML(backends: [("a", a), ("b", b)], targets: [("a", weights.0), ("b", weights.1)])
        }

        /// 20 reloads (SIGHUP and POST /reload alternately, the file flipping 90/10 ↔ 50/50) while wrk
        /// hammers 16 keep-alive connections: no socket error, no non-2xx, config_version 21. Then an
        /// invalid file is rejected on both paths and the old config keeps serving.
        @Test(.timeLimit(.minutes(1)))
        func reloadsUnderLoadDropNothing() throws {
            let a = try startModelServer("a"), b = try startModelServer("b")
            defer { a.stop(); b.stop() }
            let p = try SluiceProcess(yaml: Self.splitYAML(a: a.port, b: b.port, weights: (90, 10)))
            defer { p.stop(); p.removeFiles() }

            let wrk = WrkRun(url: p.base + "/echo", connections: 16, seconds: 8)
            usleep(700_000)
            var failures: [String] = []
            for i in 1...20 {
                let w: (Double, Double) = i % 2 == 1 ? (50, 50) : (90, 10)
                try p.writeConfig(Self.splitYAML(a: a.port, b: b.port, weights: w))
                if i % 2 == 1 {
                    p.signal(SIGHUP)
                    if !eventually(3, { p.configVersion == i + 1 }) {
                        failures.append("SIGHUP #\(i): config_version \(p.configVersion), want \(i + 1)")
                    }
                } else {
                    let r = try p.adminPost("/reload")
                    let v = r.jsonObject()?["config_version"] as? Int
                    if r.status != 200 || v != i + 1 { failures.append("POST /reload #\(i): \(r.status) \(r.text)") }
                }
                let live = try p.weights("models")
                if live["a"] != w.0 || live["b"] != w.1 { failures.append("after reload #\(i): weights \(live), want \(w)") }
                usleep(250_000)
            }
            let report = wrk.wait(timeout: 25)
            print("reloads under load: \(report.summary)")
            #expect(failures.isEmpty, "\(failures)")
            #expect(report.exitCode == 0 && report.requests > 500, "wrk: \(report.output)")
            #expect(report.socketErrors == 0, "wrk socket errors during reloads:\n\(report.output)")
            #expect(report.non2xx3xx == 0, "wrk non-2xx responses during reloads:\n\(report.output)")
            #expect(p.configVersion == 21)
            #expect(a.requestsServed > 0 && b.requestsServed > 0)

            // An invalid file: unknown backend and weights summing to 95.
            let invalid = Self.splitYAML(a: a.port, b: b.port, weights: (90, 5)).replacingOccurrences(of: "backend: b,", with: "backend: ghost,")
            try p.writeConfig(invalid)
            p.signal(SIGHUP)
            #expect(eventually(3) { p.log.contains("reload rejected") }, "no 'reload rejected' log after SIGHUP:\n\(p.log.suffix(2000))")
            let r = try p.adminPost("/reload")
            #expect(r.status == 400, "POST /reload of an invalid file: \(r.status) \(r.text)")
            let errors = (r.jsonObject()?["errors"] as? [String]) ?? []
            #expect(!errors.isEmpty, "no errors[] in \(r.text)")
            #expect(errors.joined(separator: "\n").contains("ghost"), "unknown backend not reported: \(r.text)")
            #expect(errors.joined(separator: "\n").contains("95"), "weight sum not reported: \(r.text)")
            #expect(p.configVersion == 21, "config_version changed by a rejected reload")
            #expect(try p.weights("models") == ["a": 90, "b": 10])
            let client = SimpleHTTPClient(port: p.port, timeoutSeconds: 5)
            defer { client.close() }
            for _ in 0..<20 {
                let resp = try client.request("GET", "/echo")
                #expect(resp.status == 200 && ["a", "b"].contains(resp.header("x-sluice-target") ?? ""))
            }
        }

        /// SIGTERM during a 2 s request: /ready turns 503, the listener refuses new connections, the
        /// in-flight request still gets its full 200, and the process exits 0 soon after.
        @Test(.timeLimit(.minutes(1)))
        func sigtermDrainsInFlightRequests() throws {
            let a = try startModelServer("a")
            defer { a.stop() }
            let p = try SluiceProcess(yaml: e2eYAML(backends: [("a", a.port)], targets: [("a", 100)]))
            defer { p.stop(); p.removeFiles() }

            let result = Locked<(status: Int, body: Int, target: String?, error: String?, at: Double)?>(nil)
            let done = DispatchSemaphore(value: 0)
            let started = monotonicSeconds()
            let port = p.port
            Thread {
                let c = SimpleHTTPClient(port: port, timeoutSeconds: 10)
                defer { c.close() }
                do {
                    let r = try c.request("GET", "/echo", headers: [("x-delay-ms", "2000")])
                    result.with { $0 = (r.status, r.bodyLength, r.header("x-sluice-target"), nil, monotonicSeconds()) }
                } catch {
                    result.with { $0 = (0, 0, nil, "\(error)", monotonicSeconds()) }
                }
                done.signal()
            }.start()
            usleep(300_000)
            #expect(result.value == nil, "the slow request finished before SIGTERM: \(String(describing: result.value))")
            let signalled = monotonicSeconds()
            p.signal(SIGTERM)

            // /ready must turn 503 while the admin listener still serves (until the drain ends).
            var readyStatus = 0
            while monotonicSeconds() - signalled < 1.5 {
                if let r = try? p.adminGet("/ready", timeout: 1) {
                    readyStatus = r.status
                    if r.status == 503 { break }
                }
                usleep(5_000)
            }
            #expect(readyStatus == 503, "/ready answered \(readyStatus) during the drain")
            // Only now may the listener be expected to refuse: give the workers a moment to close it.
            var refused = false
            var lastErrno: Int32 = -1
            let refuseDeadline = monotonicSeconds() + 1
            while monotonicSeconds() < refuseDeadline {
                lastErrno = tryConnect(port: p.port)
                if lastErrno == ECONNREFUSED { refused = true; break }
                usleep(10_000)
            }
            #expect(refused, "new connections still accepted during the drain (last connect errno \(lastErrno))")
            #expect(monotonicSeconds() - signalled < 1.9, "drain checks took too long to be meaningful")
            #expect(p.process.isRunning, "process exited before the in-flight request finished")

            #expect(done.wait(timeout: .now() + 6) == .success, "in-flight request never finished")
            if let r = result.value {
                #expect(r.error == nil && r.status == 200, "in-flight request: \(r)")
                #expect(r.body > 0 && r.target == "a", "in-flight request: \(r)")
                #expect(r.at - started >= 1.9, "answered after \(r.at - started)s: the delay was not honoured")
            }
            let code = p.waitForExit(timeout: max(0.5, 5 - (monotonicSeconds() - signalled)))
            #expect(code == 0, "exit status \(String(describing: code)) within 5 s of SIGTERM\n\(p.log.suffix(2000))")
            #expect(p.log.contains("draining"))
        }

        /// Blue-green under load: blue 100 / green 0, flipped to green at ~2 s and back at ~4 s while
        /// wrk runs 6 s. No error; each phase serves only its colour; blue at the end.
        @Test(.timeLimit(.minutes(1)))
        func blueGreenFlipUnderLoad() throws {
            let blue = try startModelServer("blue"), green = try startModelServer("green")
            defer { blue.stop(); green.stop() }
            let yaml = e2eYAML(backends: [("blue", blue.port), ("green", green.port)], route: "scoring",
                               targets: [("blue", 100), ("green", 0)], routeExtra: ["override_header: x-sluice-target"])
            let p = try SluiceProcess(yaml: yaml)
            defer { p.stop(); p.removeFiles() }

            let t0 = monotonicSeconds()
            let wrk = WrkRun(url: p.base + "/echo", connections: 16, seconds: 6)
            func at(_ s: Double) { let d = t0 + s - monotonicSeconds(); if d > 0 { usleep(UInt32(d * 1_000_000)) } }

            at(1.5)
            let greenBefore = green.requestsServed
            at(2)
            let toGreen = try p.adminPost("/routes/scoring/weights", json: #"{"green": 100, "blue": 0}"#)
            #expect(toGreen.status == 200, "flip to green: \(toGreen.status) \(toGreen.text)")
            at(2.5)
            let bluePhase1 = blue.requestsServed, greenPhase1 = green.requestsServed
            at(3.7)
            let bluePhase2 = blue.requestsServed, greenPhase2 = green.requestsServed
            at(4)
            let toBlue = try p.adminPost("/routes/scoring/weights", json: #"{"blue": 100, "green": 0}"#)
            #expect(toBlue.status == 200, "flip back to blue: \(toBlue.status) \(toBlue.text)")
            at(4.5)
            let greenPhase3 = green.requestsServed
            at(5.7)
            let greenPhase4 = green.requestsServed
            let report = wrk.wait(timeout: 25)
            print("blue-green under load: \(report.summary); blue \(blue.requestsServed), green \(green.requestsServed)")

            #expect(report.exitCode == 0 && report.requests > 300, "wrk: \(report.output)")
            #expect(report.socketErrors == 0, "wrk socket errors during the flips:\n\(report.output)")
            #expect(report.non2xx3xx == 0, "wrk non-2xx during the flips:\n\(report.output)")
            #expect(greenBefore == 0, "green (weight 0) served \(greenBefore) requests before the flip")
            #expect(greenPhase2 > greenPhase1, "green served nothing during the green phase")
            #expect(bluePhase2 == bluePhase1, "blue served \(bluePhase2 - bluePhase1) requests during the green phase")
            #expect(greenPhase4 == greenPhase3, "green served \(greenPhase4 - greenPhase3) requests after the flip back")
            #expect(blue.requestsServed > 0 && green.requestsServed > 0)
            let after = try Command.curl(["-o", "/dev/null", p.base + "/echo"], timeout: 5)
            #expect(after.status == 200 && after.header("x-sluice-target") == "blue", "\(after.summary)")
            let events = ((try p.routeStats("scoring")["events"] as? [[String: Any]]) ?? []).filter { $0["type"] as? String == "weight_change" }
            #expect(events.count >= 2, "weight changes not in events: \(events)")
        }
    }
}
