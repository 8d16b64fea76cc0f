import Foundation
import SluiceConfig
import SluiceCore
import SluiceProxy

/// A real Sluice data plane started in this process on 127.0.0.1 (port 0) from YAML text.
final class ProxyHarness: @unchecked Sendable {
    // @unchecked: fields are set once in init and only read afterwards.
    let control: ControlPlane
    let server: ProxyServer
    let port: UInt16

    /// Starts `workers` workers for `yaml`; `{listener}` is not substituted: the YAML should use port 0.
    init(yaml: String, workers: Int = 1) throws {
        let config = try ConfigLoader.parse(yaml: yaml, file: "test.yaml")
        control = try ControlPlane(config: config, configPath: nil, workers: workers)
        server = ProxyServer(workerCount: workers, publisher: control.publisher)
        try server.bind(config.listeners)
        port = server.bound.values.first!.port
        server.start()
        control.setReady(true)
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() {
        server.stop()
    }

    /// A two-backend 90/10 config (or custom weights) on the given backend ports.
    static func splitYAML(stable: UInt16, canary: UInt16, weights: (Double, Double) = (90, 10), extraRoute: String = "", limits: String = "") -> String {
        """
        workers: 1
        \(limits)
        listeners:
          - { name: test, address: 127.0.0.1:0 }
        backends:
          - { name: stable, endpoints: [127.0.0.1:\(stable)], model_version: v1, timeouts: { connect: 500ms, request: 2s } }
          - { name: canary, endpoints: [127.0.0.1:\(canary)], model_version: v2, timeouts: { connect: 500ms, request: 2s } }
        routes:
          - name: models
            match: { path_prefix: / }
            baseline: stable
        \(extraRoute)
            targets:
              - { backend: stable, weight: \(weights.0) }
              - { backend: canary, weight: \(weights.1) }
        """
    }
}

/// Runs a command line tool and captures its output.
struct Command {
    let status: Int32
    let stdout: String
    let stderr: String

    @discardableResult
    static func run(_ executable: String, _ args: [String], input: Data? = nil, timeout: TimeInterval = 60) throws -> Command {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        p.arguments = executable.hasPrefix("/") ? args : [executable] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let input {
            let inp = Pipe()
            p.standardInput = inp
            try p.run()
            inp.fileHandleForWriting.write(input)
            try inp.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        let deadline = Date().addingTimeInterval(timeout)
        let outBox = DataBox(), errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate() }
        group.wait()
        p.waitUntilExit()
        return Command(status: p.terminationStatus, stdout: String(decoding: outBox.data, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// `curl -s` with extra arguments; returns (status code, headers, body) via -D and -w.
    static func curl(_ args: [String], timeout: TimeInterval = 30) throws -> CurlResult {
        let headerFile = NSTemporaryDirectory() + "h-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: headerFile) }
        let c = try run("curl", ["-s", "-S", "-D", headerFile, "--max-time", "\(Int(timeout))"] + args, timeout: timeout + 5)
        let raw = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return CurlResult(exitCode: c.status, rawHeaders: raw, body: c.stdout, stderr: c.stderr)
    }
}

/// What curl saw.
struct CurlResult {
    let exitCode: Int32
    let rawHeaders: String
    let body: String
    let stderr: String

    /// Status of the last response (after any 100 Continue).
    var status: Int {
        let lines = rawHeaders.split(separator: "\r\n").filter { $0.hasPrefix("HTTP/") }
        guard let last = lines.last else { return 0 }
        return Int(last.split(separator: " ")[1]) ?? 0
    }

    /// Value of a header of the last response (lowercased name).
    func header(_ name: String) -> String? {
        let blocks = rawHeaders.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        guard let last = blocks.last else { return nil }
        for line in last.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }
}

/// Holds bytes filled by a reader thread; read only after the DispatchGroup wait.
final class DataBox: @unchecked Sendable {
    // @unchecked: written by exactly one reader before group.leave(), read after group.wait().
    var data = Data()
}
