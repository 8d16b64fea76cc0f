import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// HTTP/2 clients (prior knowledge on the HTTP/1 port) through Sluice to HTTP/1.1 model servers.
    @Suite struct HTTP2 {
        @Test(.timeLimit(.minutes(1)))
        func curlPriorKnowledgeGetsRoutedResponses() throws {
            let split = try SplitProxy(weights: (50, 50))
            defer { split.stop() }
            let h = split.proxy
            var seen: [String: Int] = [:]
            for _ in 0..<20 {
                let r = try Command.curl(["--http2-prior-knowledge", "-X", "POST", "\(h.base)/v1/models/fraud-detector/predict",
                                          "-H", "content-type: application/json", "-d", #"{"inputs":{"transaction_amount":100}}"#])
                #expect(r.exitCode == 0, "\(r.stderr)")
                #expect(r.rawHeaders.hasPrefix("HTTP/2 200"), "\(r.rawHeaders)")
                #expect(r.json?["model_name"] as? String == "fraud-detector")
                #expect(r.header("x-request-id")?.count == 32)
                let target = r.header("x-sluice-target") ?? "none"
                #expect(r.header("x-model-version") == (target == "stable" ? "v1" : "v2"))
                seen[target, default: 0] += 1
            }
            #expect(seen.keys.sorted() == ["canary", "stable"], "\(seen)")

            // Request bodies without content-length are re-framed as chunked for the HTTP/1.1 backend.
            let big = NSTemporaryDirectory() + "h2-body-\(UUID().uuidString)"
            FileManager.default.createFile(atPath: big, contents: Data(repeating: 0x61, count: 3_000_000))
            defer { try? FileManager.default.removeItem(atPath: big) }
            let up = try Command.curl(["--http2-prior-knowledge", "-H", "transfer-encoding: chunked", "--data-binary", "@\(big)", "\(h.base)/sink"])
            #expect(up.json?["received"] as? Int == 3_000_000, "\(up.body) \(up.stderr)")
            let down = try Command.run("curl", ["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{size_download}", "\(h.base)/chunked/5000000"])
            #expect(down.stdout == "5000000")
        }

        @Test(.timeLimit(.minutes(1)))
        func errorsAreJSONOnHTTP2() throws {
            let stable = try startModelServer("v1")
            let closedPort: UInt16
            do { let s = try startModelServer("gone"); closedPort = s.port; s.stop() }
            defer { stable.stop() }
            let yaml = """
            workers: 1
            listeners: [{ name: t, address: 127.0.0.1:0 }]
            backends:
              - { name: up, endpoints: [127.0.0.1:\(stable.port)] }
              - { name: down, endpoints: [127.0.0.1:\(closedPort)], timeouts: { connect: 300ms } }
            routes:
              - { name: a, match: { path_prefix: /v1 }, baseline: up, targets: [{ backend: up, weight: 100 }] }
              - { name: b, match: { path_prefix: /down }, baseline: down, targets: [{ backend: down, weight: 100 }] }
            """
            let h = try ProxyHarness(yaml: yaml)
            defer { h.stop() }
            let notFound = try Command.curl(["--http2-prior-knowledge", "\(h.base)/nothing"])
            #expect(notFound.status == 404)
            #expect(notFound.json?["error"] as? String == "no_route")
            let unavailable = try Command.curl(["--http2-prior-knowledge", "\(h.base)/down/x"])
            #expect(unavailable.status == 503)
            #expect(unavailable.json?["error"] as? String == "upstream_unavailable")
            #expect(unavailable.json?["request_id"] as? String == unavailable.header("x-request-id"))
        }

        @Test(.timeLimit(.minutes(2)))
        func nghttpAndH2loadWithoutErrors() throws {
            let split = try SplitProxy()
            defer { split.stop() }
            let h = split.proxy
            let n = try Command.run("nghttp", ["-nv", "\(h.base)/status/200"], timeout: 20)
            #expect(n.status == 0, "\(n.stderr)")
            #expect(n.stdout.contains(":status: 200"))
            #expect(n.stdout.contains("x-sluice-target"))
            // 100k requests over 10 connections x 10 streams: zero failed, zero errored.
            let load = try Command.run("h2load", ["-n", "100000", "-c", "10", "-m", "10", "\(h.base)/status/200"], timeout: 100)
            #expect(load.status == 0, "\(load.stderr)")
            let line = load.stdout.split(separator: "\n").first { $0.hasPrefix("requests:") } ?? ""
            #expect(line.contains("100000 succeeded, 0 failed, 0 errored"), "\(line)")
        }
    }
}
