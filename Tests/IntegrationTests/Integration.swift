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
