import Foundation
import Testing

extension Integration {
    /// The `sluice` executable: validate and run with bad configs.
    @Suite struct CLI {
        static let badYAML = """
        workers: 1
        listeners:
          - { name: public, address: 127.0.0.1:PORT }
        backends:
          - { name: a, endpoints: [127.0.0.1:8501], timeouts: { request: 5 parsecs } }
          - { name: b, endpoints: [not-an-endpoint] }
        routes:
          - name: r
            match: { path_prefix: /v1 }
            baseline: a
            targets:
              - { backend: a, weight: 90 }
              - { backend: ghost, weight: 5 }
        """

        static func binary() throws -> String {
            guard let b = sluiceBinary() else {
                throw TestError("sluice executable not found next to \(CommandLine.arguments[0]) or under \(repoRoot().path)/.build*/debug")
            }
            return b
        }

        @Test(.timeLimit(.minutes(1)))
        func validateAcceptsEveryExample() throws {
            let sluice = try Self.binary()
            let dir = repoRoot().appendingPathComponent("config")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
            #expect(!files.isEmpty)
            for f in files {
                let c = try Command.run(sluice, ["validate", dir.appendingPathComponent(f).path], timeout: 20)
                #expect(c.status == 0, "\(f): exit \(c.status)\n\(c.stdout)\(c.stderr)")
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func validateReportsEveryErrorWithFileLineAndPath() throws {
            let sluice = try Self.binary()
            let file = NSTemporaryDirectory() + "sluice-bad-\(UUID().uuidString).yaml"
            try Self.badYAML.replacingOccurrences(of: "PORT", with: "8080").write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let c = try Command.run(sluice, ["validate", file], timeout: 20)
            #expect(c.status == 1, "exit \(c.status)")
            let text = c.stdout + c.stderr
            let pattern = try NSRegularExpression(pattern: "^" + NSRegularExpression.escapedPattern(for: file) + ":[0-9]+: [A-Za-z_\\[\\]0-9.]+: .+$", options: .anchorsMatchLines)
            let matches = pattern.numberOfMatches(in: text, range: NSRange(text.startIndex..., in: text))
            #expect(matches >= 3, "want one `file:line: path: message` line per error, got:\n\(text)")
            #expect(text.contains("ghost"), "unknown backend not reported:\n\(text)")
            #expect(text.contains("95"), "weight sum not reported:\n\(text)")
        }

        @Test(.timeLimit(.minutes(1)))
        func validateAndRunWarnAboutAnOpenAdminPortWithoutToken() throws {
            let sluice = try Self.binary()
            let file = NSTemporaryDirectory() + "sluice-open-admin-\(UUID().uuidString).yaml"
            defer { try? FileManager.default.removeItem(atPath: file) }
            func config(_ admin: String) -> String {
                """
                listeners: [{ name: l, address: 127.0.0.1:0 }]
                admin: \(admin)
                backends: [{ name: a, endpoints: [127.0.0.1:1] }]
                routes: [{ name: r, match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]
                """
            }
            try config("{ address: 0.0.0.0:9901 }").write(toFile: file, atomically: true, encoding: .utf8)
            let open = try Command.run(sluice, ["validate", file], timeout: 20)
            #expect(open.status == 0, "exit \(open.status)\n\(open.stderr)")
            #expect(open.stdout.contains(": ok ("), "\(open.stdout)")
            #expect(open.stderr.contains("\(file): warning: admin.address 0.0.0.0:9901 is not a loopback address and admin.token_file is not set"),
                    "\(open.stderr)")
            for quiet in ["{ address: 127.0.0.1:9901 }", "{ address: 0.0.0.0:9901, token_file: /nonexistent/token }"] {
                try config(quiet).write(toFile: file, atomically: true, encoding: .utf8)
                let c = try Command.run(sluice, ["validate", file], timeout: 20)
                #expect(c.status == 0 && !c.stderr.contains("warning"), "\(quiet): exit \(c.status)\n\(c.stderr)")
            }
            // `sluice run` prints the same warning on stderr and starts.
            let p = try SluiceProcess(yaml: """
                listeners: [{ name: l, address: "127.0.0.1:{LISTEN}" }]
                admin: { address: "0.0.0.0:{ADMIN}" }
                backends: [{ name: a, endpoints: [127.0.0.1:1] }]
                routes: [{ name: r, match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]
                """)
            defer { p.stop(); p.removeFiles() }
            #expect(p.log.contains("sluice: warning: admin.address 0.0.0.0:\(p.adminPort) is not a loopback address"), "\(p.log)")
            p.stop()
            #expect(p.waitForExit(timeout: 5) == 0)
        }

        @Test(.timeLimit(.minutes(1)))
        func simulateReportsRatesOnAnExampleConfig() throws {
            let sluice = try Self.binary()
            let config = repoRoot().appendingPathComponent("config/full.yaml").path
            let args = ["simulate", "-c", config, "--runs", "20", "--duration", "10m", "--seed", "7"]
            let c = try Command.run(sluice, args, timeout: 50)
            #expect(c.status == 0, "exit \(c.status)\n\(c.stdout)\(c.stderr)")
            let lines = c.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("route ") && $0.contains("fraud-detector") }, "\(c.stdout)")
            #expect(lines.contains { $0.hasPrefix("runs ") && $0.hasSuffix(" 20") }, "\(c.stdout)")
            #expect(lines.contains { $0.hasPrefix("false-rollback rate ") && $0.contains(" of 20 = ") && $0.contains("95% CI") }, "\(c.stdout)")
            #expect(lines.contains { $0.hasPrefix("final states ") }, "\(c.stdout)")
            #expect(lines.contains { $0.hasPrefix("wall time ") }, "\(c.stdout)")
            // Same seed, same figures; JSON carries them too.
            let again = try Command.run(sluice, args + ["--format", "json"], timeout: 50)
            #expect(again.status == 0)
            let json = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
            #expect(json?["runs"] as? Int == 20)
            let rollbacks = try #require(json?["rollbacks"] as? Int)
            #expect(lines.contains { $0.hasPrefix("false-rollback rate ") && $0.contains(" \(rollbacks) of 20 ") }, "\(c.stdout)")
            // A bad flag is an error with a message, exit 2.
            let bad = try Command.run(sluice, ["simulate", "-c", config, "--baseline-latency", "gauss:1ms"], timeout: 20)
            #expect(bad.status == 2 && bad.stderr.contains("gauss"), "exit \(bad.status)\n\(bad.stderr)")
        }

        @Test(.timeLimit(.minutes(1)))
        func runWithABadConfigExitsWithoutListening() throws {
            let sluice = try Self.binary()
            // A port that is free now; a listener there after the run would mean Sluice bound it.
            let probe = try ClosedPort()
            let port = probe.port
            probe.release()
            let file = NSTemporaryDirectory() + "sluice-bad-\(UUID().uuidString).yaml"
            try Self.badYAML.replacingOccurrences(of: "PORT", with: "\(port)").write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let t0 = Date()
            let c = try Command.run(sluice, ["run", "--config", file], timeout: 10)
            #expect(c.status == 1, "exit \(c.status)\n\(c.stdout)\(c.stderr)")
            #expect(Date().timeIntervalSince(t0) < 9, "sluice run did not exit by itself")
            #expect(!(c.stdout + c.stderr).contains("sluice started"))
            #expect((c.stdout + c.stderr).contains(file + ":"), "errors not reported:\n\(c.stderr)")
            #expect((try? RawSocket(port: port, timeout: 1)) == nil, "something listens on \(port)")
        }
    }
}
