import Foundation
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// The README's five-minute tour, step 4, run as written: its `tour.yaml` (read from README.md,
    /// ports moved to free ones), `docker/backend.py` as the two model servers with the candidate
    /// 150 ms slow, POSTs to the prediction path; the candidate must be rolled back for its p99, and
    /// `resume` must restart the progression at its first step once the candidate is fixed.
    @Suite struct ReadmeTour {
        static let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        /// The README's yaml block that holds the tour's rollback rule.
        static func tourYAML() throws -> String {
            let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
            for piece in readme.components(separatedBy: "```yaml\n").dropFirst() {
                let block = piece.components(separatedBy: "```")[0]
                if block.contains("max_p99_latency: 100ms"), block.contains("listeners:") { return block }
            }
            throw TestError("README.md has no tour config (a yaml block with listeners and max_p99_latency: 100ms)")
        }

        /// `python3 docker/backend.py` with the tour's environment, once its port accepts.
        final class ModelServer {
            let process = Process()
            init(version: String, port: UInt16, latencyMs: Int?) throws {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", ReadmeTour.root.appendingPathComponent("docker/backend.py").path]
                var env = ProcessInfo.processInfo.environment
                env["MODEL_VERSION"] = version
                env["PORT"] = "\(port)"
                if let latencyMs { env["LATENCY_MS"] = "\(latencyMs)" }
                process.environment = env
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let deadline = monotonicSeconds() + 10
                while true {
                    let fd = tryConnect(port: port)
                    if fd >= 0 { close(fd); break }
                    if monotonicSeconds() > deadline { stop(); throw TestError("docker/backend.py did not listen on \(port)") }
                    usleep(50_000)
                }
            }
            /// SIGKILL: the test process blocks SIGTERM, and children inherit the mask.
            func stop() {
                guard process.isRunning else { return }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            deinit { stop() }
        }

        /// Keep-alive clients POSTing the tour's prediction until stopped.
        final class Load: @unchecked Sendable {
            // @unchecked: `running` is behind Locked; the semaphore is thread-safe.
            private let running = Locked(true)
            private let done = DispatchSemaphore(value: 0)
            private let threads: Int
            init(port: UInt16, threads: Int) {
                self.threads = threads
                for _ in 0..<threads {
                    Thread { [self] in
                        let client = SimpleHTTPClient(port: port, timeoutSeconds: 5)
                        while running.value {
                            do {
                                _ = try client.request("POST", "/v1/models/fraud-detector/predict",
                                                       headers: [("content-type", "application/json")],
                                                       text: #"{"inputs": {"transaction_amount": 12.5}}"#, collectBody: false)
                                usleep(5_000)  // at most about 200 requests/s per client, like the tour's curl loop
                            } catch {
                                client.close()
                                usleep(10_000)
                            }
                        }
                        client.close()
                        done.signal()
                    }.start()
                }
            }
            func stop() {
                running.with { $0 = false }
                for _ in 0..<threads { _ = done.wait(timeout: .now() + 10) }
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func canaryRollsBackForItsP99AndResumes() throws {
            let baselinePort = try freeLoopbackPort(), candidatePort = try freeLoopbackPort()
            let yaml = try Self.tourYAML()
                .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:{LISTEN}")
                .replacingOccurrences(of: "127.0.0.1:9901", with: "127.0.0.1:{ADMIN}")
                .replacingOccurrences(of: "127.0.0.1:8501", with: "127.0.0.1:\(baselinePort)")
                .replacingOccurrences(of: "127.0.0.1:8502", with: "127.0.0.1:\(candidatePort)")
            let baseline = try ModelServer(version: "v2.3.1", port: baselinePort, latencyMs: nil)
            defer { baseline.stop() }
            var candidate = try ModelServer(version: "v2.4.0", port: candidatePort, latencyMs: 150)
            defer { candidate.stop() }
            let sluice = try SluiceProcess(yaml: yaml)
            defer { sluice.stop(); sluice.removeFiles() }
            let load = Load(port: sluice.port, threads: 2)
            defer { load.stop() }

            // Rolled back within the tour's promise (three evaluations 2 s apart once 20 requests are in).
            var route: [String: Any] = [:]
            let rolledBack = eventually(30) {
                route = (try? sluice.routeStats("fraud-detector")) ?? [:]
                return route["state"] as? String == "rolled_back"
            }
            #expect(rolledBack, "state \(route["state"] ?? "?"); log:\n\(sluice.log)")
            let reason = route["reason"] as? String ?? ""
            #expect(reason.contains("> 100ms in 3 consecutive evaluations"), "\(reason)")
            #expect(try sluice.weights("fraud-detector") == ["fraud-v2-3-1": 100, "fraud-v2-4-0": 0])

            // The fixed candidate, then resume: back to the first step.
            candidate.stop()
            candidate = try ModelServer(version: "v2.4.0", port: candidatePort, latencyMs: nil)
            let resumed = try sluice.adminPost("/routes/fraud-detector/resume")
            #expect(resumed.status == 200)
            #expect(resumed.text.contains(#""state":"progressing""#), "\(resumed.text)")
            #expect(try sluice.weights("fraud-detector") == ["fraud-v2-3-1": 90, "fraud-v2-4-0": 10])
            // It stays up: healthy evaluations, no new rollback for a few seconds.
            sleep(6)
            #expect(try sluice.routeStats("fraud-detector")["state"] as? String == "progressing")
        }
    }
}
