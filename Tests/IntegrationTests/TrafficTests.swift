import Foundation
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// Split ratio, keep-alive reuse towards the backends, multiple workers.
    @Suite struct Traffic {
        @Test(.timeLimit(.minutes(1)))
        func splitRatioIsWithinBinomialBounds() throws {
            let split = try SplitProxy()
            defer { split.stop() }
            let (h, stable, canary) = (split.proxy, split.stable, split.canary)
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 5)
            defer { client.close() }
            let n = 2000
            var counts: [String: Int] = [:]
            var mismatched = 0
            for _ in 0..<n {
                let r = try client.request("GET", "/status/200")
                #expect(r.status == 200)
                let target = r.header("x-sluice-target") ?? "none"
                counts[target, default: 0] += 1
                // The backend that answered is the one the header names.
                let expected = target == "stable" ? "v1" : target == "canary" ? "v2" : "?"
                if r.header("x-backend") != expected || r.header("x-model-version") != expected { mismatched += 1 }
            }
            let canaryCount = counts["canary", default: 0]
            let sigma = (Double(n) * 0.1 * 0.9).squareRoot()
            #expect((counts["stable", default: 0] + canaryCount) == n, "\(counts)")
            #expect(abs(Double(canaryCount) - Double(n) * 0.1) <= 4 * sigma, "canary got \(canaryCount) of \(n): \(counts)")
            #expect(mismatched == 0, "x-sluice-target/x-model-version disagree with the backend that answered \(mismatched) times")
        }

        @Test(.timeLimit(.minutes(1)))
        func sequentialRequestsReuseOneUpstreamConnectionPerBackend() throws {
            let split = try SplitProxy()
            defer { split.stop() }
            let (h, stable, canary) = (split.proxy, split.stable, split.canary)
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 5)
            defer { client.close() }
            for i in 0..<500 {
                let r = try client.request("POST", "/echo", text: "{\"i\": \(i)}")
                #expect(r.status == 200)
            }
            #expect(client.connectionsOpened == 1, "Sluice closed the client connection \(client.connectionsOpened - 1) times")
            #expect(stable.acceptedConnections <= 2, "stable accepted \(stable.acceptedConnections) connections for ~450 requests")
            #expect(canary.acceptedConnections <= 2, "canary accepted \(canary.acceptedConnections) connections for ~50 requests")
            #expect(stable.requestsServed + canary.requestsServed == 500)
        }

        @Test(.timeLimit(.minutes(1)))
        func concurrentClientsNeedAtMostConcurrencyUpstreamConnections() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let workers = 1, concurrency = 10, perClient = 100
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(workers: workers, backends: [.init(name: "only", port: backend.port, version: "v1")]),
                                     workers: workers)
            defer { h.stop() }
            let failures = Locked<[String]>([])
            let finished = runConcurrently(concurrency) { _ in
                let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 5)
                defer { client.close() }
                for _ in 0..<perClient {
                    do {
                        let r = try client.request("GET", "/status/200")
                        if r.status != 200 { failures.with { $0.append("status \(r.status)") } }
                    } catch {
                        failures.with { $0.append("\(error)") }
                    }
                }
            }
            #expect(finished)
            #expect(failures.value.isEmpty, "\(failures.value.prefix(5))")
            #expect(backend.requestsServed == concurrency * perClient)
            #expect(backend.acceptedConnections <= workers * concurrency,
                    "\(backend.acceptedConnections) upstream connections for \(concurrency) concurrent clients on \(workers) worker(s)")
        }

        @Test(.timeLimit(.minutes(1)))
        func twoWorkersBothServe() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(workers: 2, backends: [.init(name: "only", port: backend.port)]), workers: 2)
            defer { h.stop() }
            // Generated request ids start with a per-worker random prefix (16 hex digits).
            let prefixes = Locked<[String: Int]>([:])
            let failures = Locked<[String]>([])
            let finished = runConcurrently(8) { _ in
                for _ in 0..<6 {
                    do {
                        let r = try SimpleHTTPClient.get(port: h.port, path: "/status/200")
                        if r.status != 200 { failures.with { $0.append("status \(r.status)") } }
                        if let id = r.header("x-request-id"), id.count == 32 {
                            prefixes.with { $0[String(id.prefix(16)), default: 0] += 1 }
                        } else {
                            failures.with { $0.append("bad x-request-id \(String(describing: r.header("x-request-id")))") }
                        }
                    } catch {
                        failures.with { $0.append("\(error)") }
                    }
                }
            }
            #expect(finished)
            #expect(failures.value.isEmpty, "\(failures.value.prefix(5))")
            #expect(backend.requestsServed == 48)
            // 48 fresh connections spread by SO_REUSEPORT: all on one worker has probability 2^-47.
            #expect(prefixes.value.count == 2, "request ids came from \(prefixes.value.count) worker(s): \(prefixes.value)")
        }
    }
}
