import Foundation
import SluiceDemo
import SluiceSupport

/// Starts a model server on a free loopback port with `behavior` (v-test, no latency by default).
func startServer(_ behavior: ModelBehavior = ModelBehavior(modelVersion: "v-test")) throws -> ModelServer {
    try ModelServer.start(behavior: behavior)
}

/// A client for `server`.
func client(for server: ModelServer, timeout: Double = 5) -> SimpleHTTPClient {
    SimpleHTTPClient(host: "127.0.0.1", port: server.port, timeoutSeconds: timeout)
}

/// Runs `/usr/bin/env curl ARGS` and returns its exit status and standard output.
func runCurl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["curl"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Whether curl can be run here.
let curlAvailable: Bool = (try? runCurl(["--version"]).status) == 0
