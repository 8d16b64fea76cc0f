import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// HTTP/1.1 clients to an HTTP/2 backend: nghttpx (h2c frontend) in front of a model server
    /// stands in for an h2-only model server.
    @Suite struct CrossProtocol {
        @Test(.timeLimit(.minutes(1)))
        func http11ClientReachesH2Backend() throws {
            let backend = try NghttpxBackend(version: "v-h2")
            defer { backend.stop() }
            let h2Port = backend.port
            let dir = NSTemporaryDirectory() + "sluice-cross-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let yaml = """
            workers: 1
            listeners: [{ name: t, address: 127.0.0.1:0 }]
            backends: [{ name: h2model, endpoints: [127.0.0.1:\(h2Port)], protocol: h2, model_version: v-h2 }]
            routes:
              - { name: m, match: { path_prefix: / }, baseline: h2model, targets: [{ backend: h2model, weight: 100 }] }
            """
            let h = try ProxyHarness(yaml: yaml)
            defer { h.stop() }
            let r = try Command.curl(["--http1.1", "-X", "POST", "\(h.base)/v1/models/fraud-detector/predict",
                                      "-H", "content-type: application/json", "-d", #"{"inputs":{"transaction_amount":250}}"#])
            #expect(r.status == 200, "\(r.rawHeaders) \(r.body)")
            #expect(r.rawHeaders.hasPrefix("HTTP/1.1 200"))
            #expect(r.header("x-sluice-target") == "h2model")
            #expect(r.header("x-backend") == "v-h2")
            #expect(r.json?["model_version"] as? String == "v-h2")
            // Bodies both ways, several requests over one keep-alive client connection.
            let file = "\(dir)/body"
            FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x62, count: 2_000_000))
            let up = try Command.curl(["--http1.1", "--data-binary", "@\(file)", "\(h.base)/sink", "\(h.base)/sink"])
            #expect(up.body.contains(#""received": 2000000"#) || up.body.contains(#""received":2000000"#), "\(up.body)")
            let down = try Command.run("curl", ["-s", "--http1.1", "-o", "/dev/null", "-w", "%{size_download}", "\(h.base)/bytes/3000000"])
            #expect(down.stdout == "3000000")
        }
    }
}
