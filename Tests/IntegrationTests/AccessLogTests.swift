import Foundation
import SluiceConfig
import SluiceDemo
import SluiceProxy
import SluiceSupport
import Testing

extension Integration {
    /// The JSON-lines access log is written by its own thread, sampled as configured.
    @Suite struct AccessLogFile {
        /// The JSON records in the log at `path`, once `count` are there (or after 3 s).
        static func records(in path: String, expecting count: Int) -> [[String: Any]] {
            var lines: [[String: Any]] = []
            _ = eventually(3) {
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                lines = text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                return lines.count == count
            }
            return lines
        }

        /// Runs `body` against an in-process proxy (listener port, log path) in front of a model server,
        /// logging every request; everything is stopped and removed afterwards.
        static func withLoggingProxy(_ body: (UInt16, String) throws -> Void) throws {
            let backend = try ModelServer.start(behavior: ModelBehavior(modelVersion: "v1"))
            defer { backend.stop() }
            let path = NSTemporaryDirectory() + "sluice-access-\(UUID().uuidString).jsonl"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let (server, log) = try startLogging(backendPort: backend.port, to: path)
            defer { server.stop(); log.stop() }
            try body(server.bound["t"]!.port, path)
        }

        /// An in-process proxy (one route to the backend) logging every request to `path`.
        static func startLogging(backendPort: UInt16, to path: String) throws -> (ProxyServer, AccessLog) {
            let yaml = """
            workers: 1
            listeners: [{ name: t, address: 127.0.0.1:0 }]
            backends: [{ name: v1, endpoints: [127.0.0.1:\(backendPort)] }]
            routes:
              - { name: models, match: { path_prefix: / }, baseline: v1, targets: [{ backend: v1, weight: 100 }] }
            access_log: { path: \(path), sample_rate: 1.0 }
            """
            let config = try ConfigLoader.parse(yaml: yaml, file: "t.yaml")
            let control = try ControlPlane(config: config, configPath: nil, workers: 1)
            let log = try AccessLog(path: path, sampleRate: config.accessLog!.sampleRate, workers: 1)
            log.start()
            let server = ProxyServer(workerCount: 1, publisher: control.publisher, accessLog: log)
            try server.bind(config.listeners)
            server.start()
            return (server, log)
        }

        @Test(.timeLimit(.minutes(1)))
        func writesSampledJSONLines() throws {
            try Self.withLoggingProxy { port, path in
            let client = SimpleHTTPClient(port: port)
            defer { client.close() }
            for i in 0..<5 {
                let r = try client.request("GET", "/status/\(i == 4 ? 503 : 200)?n=\(i)", headers: [("x-request-id", "req-\(i)")])
                #expect(r.status == (i == 4 ? 503 : 200))
            }
            let lines = Self.records(in: path, expecting: 5)
            #expect(lines.count == 5)
            #expect(lines.first?["request_id"] as? String == "req-0")
            #expect(lines.first?["method"] as? String == "GET")
            #expect(lines.first?["path"] as? String == "/status/200?n=0")
            #expect(lines.first?["route"] as? String == "models")
            #expect(lines.first?["target"] as? String == "v1")
            #expect(lines.first?["client"] as? String == "127.0.0.1")
            #expect(lines.last?["status"] as? Int == 503)
            #expect((lines.first?["duration_ms"] as? Double ?? -1) >= 0)
            }
        }

        /// HTTP/2 clients' exchanges are logged the same way (one record path for both kinds of client).
        @Test(.timeLimit(.minutes(1)))
        func logsHTTP2ExchangesToo() throws {
            try Self.withLoggingProxy { port, path in
            let base = "http://127.0.0.1:\(port)"
            let ok = try Command.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-H", "x-request-id: h2-0", "\(base)/status/200?n=0"])
            let failed = try Command.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-H", "x-request-id: h2-1", "\(base)/status/503"])
            #expect(ok.status == 200 && failed.status == 503)
            let lines = Self.records(in: path, expecting: 2)
            #expect(lines.count == 2)
            #expect(lines.first?["request_id"] as? String == "h2-0")
            #expect(lines.first?["method"] as? String == "GET")
            #expect(lines.first?["path"] as? String == "/status/200?n=0")
            #expect(lines.first?["route"] as? String == "models")
            #expect(lines.first?["status"] as? Int == 200)
            #expect(lines.last?["status"] as? Int == 503)
            }
        }
    }
}
