import Foundation
import SluiceDemo
import Testing

/// Every integration suite nests here so that the whole tree runs one test at a time: they start
/// servers, measure this process's RSS and time latencies, so they must not overlap.
@Suite(.serialized) enum Integration {}

/// Starts a ModelServer on 127.0.0.1:0 reporting `version`.
func startModelServer(_ version: String) throws -> ModelServer {
    try ModelServer.start(port: 0, behavior: ModelBehavior(modelVersion: version))
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass.
func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Two model servers, "v1" (backend `stable`) and "v2" (backend `canary`), behind an in-process
/// Sluice splitting 90/10 (or `weights`) between them.
final class SplitProxy {
    let stable: ModelServer
    let canary: ModelServer
    let proxy: ProxyHarness

    init(weights: (Double, Double) = (90, 10)) throws {
        stable = try startModelServer("v1")
        do {
            canary = try startModelServer("v2")
        } catch {
            stable.stop()
            throw error
        }
        do {
            proxy = try ProxyHarness(yaml: ProxyHarness.yaml(
                backends: [.init(name: "stable", port: stable.port, version: "v1"),
                           .init(name: "canary", port: canary.port, version: "v2")],
                targets: [("stable", weights.0), ("canary", weights.1)]))
        } catch {
            stable.stop()
            canary.stop()
            throw error
        }
    }

    func stop() {
        proxy.stop()
        stable.stop()
        canary.stop()
    }
}
