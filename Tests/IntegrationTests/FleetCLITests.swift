import Foundation
import Testing

extension Integration {
    /// The CLI's side of the fleet: `sluice validate` on the section, `sluice run --instance`.
    @Suite struct FleetCLI {
        @Test(.timeLimit(.minutes(1)))
        func validateNamesFleetErrorsWithFileAndLine() throws {
            let sluice = try sluiceExecutable()
            let file = NSTemporaryDirectory() + "sluice-fleet-\(UUID().uuidString).yaml"
            try """
            listeners: [{ name: l, address: 127.0.0.1:8080 }]
            backends: [{ name: a, endpoints: [127.0.0.1:1] }]
            routes: [{ name: r, match: { path_prefix: / }, targets: [{ backend: a, weight: 100 }] }]
            fleet:
              name: prod
              etcd: { endpoints: ["127.0.0.1:2379"] }
              lease_ttl: 500ms
            """.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let c = try Command.run(sluice, ["validate", file], timeout: 20)
            #expect(c.status == 1)
            #expect((c.stdout + c.stderr).contains("\(file):7: fleet.lease_ttl: must be whole seconds between 2s and 300s"), "\(c.stdout)\(c.stderr)")
        }

        @Test(.timeLimit(.minutes(1)))
        func runRefusesABadInstanceName() throws {
            let sluice = try sluiceExecutable()
            let c = try Command.run(sluice, ["run", "--config", repoRoot().appendingPathComponent("config/fleet.yaml").path, "--instance", "a b"], timeout: 20)
            #expect(c.status == 1)
            #expect(c.stderr.contains("--instance must be 1 to 128 letters, digits"), "\(c.stderr)")
            // The environment's name goes into etcd keys the same way: checked the same way.
            let e = try Command.run("/usr/bin/env", ["SLUICE_INSTANCE=pods/a", sluice, "run", "--config",
                                                     repoRoot().appendingPathComponent("config/fleet.yaml").path], timeout: 20)
            #expect(e.status == 1)
            #expect(e.stderr.contains("SLUICE_INSTANCE must be 1 to 128 letters, digits"), "\(e.stderr)")
        }

        /// `SLUICE_INSTANCE` names the replica when `--instance` is absent.
        @Test(.timeLimit(.minutes(1)))
        func instanceFromTheEnvironment() throws {
            let etcd = try EtcdProcess()
            defer { etcd.stop() }
            let yaml = e2eYAML(workers: 1, backends: [("a", 1)], targets: [("a", 100)])
                + "fleet:\n  name: env\n  instance: from-config\n  etcd: { endpoints: [\"\(etcd.endpoint)\"] }\n"
            let p = try SluiceProcess(yaml: yaml, environment: ["SLUICE_INSTANCE": "from-env"])
            defer { p.stop(); p.removeFiles() }
            #expect(eventually(5) { (try? p.stats())?["fleet"].flatMap { ($0 as? [String: Any])?["instance"] as? String } == "from-env" })
        }
    }
}
