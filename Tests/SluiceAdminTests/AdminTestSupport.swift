import Foundation
import Glibc
import Logging
import SluiceAdmin
import SluiceConfig
import SluiceProxy

/// A ControlPlane plus a running AdminServer on 127.0.0.1:0, with a scratch directory holding the
/// config file (for /reload) and, optionally, a token file.
final class AdminFixture: @unchecked Sendable {
    /// Two routes: `canary` (weighted 90/10 with a shadow and a 30 s rollback window) and `ab`
    /// (sticky 50/50 on x-user-id). Backends listen nowhere: the proxy is not started.
    static let yaml = """
        listeners:
          - name: public
            address: 127.0.0.1:0
        admin:
          address: 127.0.0.1:0
        backends:
          - { name: a, endpoints: [127.0.0.1:1] }
          - { name: b, endpoints: [127.0.0.1:2] }
          - { name: c, endpoints: [127.0.0.1:3] }
        routes:
          - name: canary
            match: { path_prefix: /canary }
            baseline: a
            targets:
              - { backend: a, weight: 90 }
              - { backend: b, weight: 10 }
            shadow:
              backend: c
              percent: 100
              compare: { json_pointer: /p, tolerance: 0.01 }
            rollback: { window: 30s, max_error_rate: 0.02 }
          - name: ab
            match: { path_prefix: /ab }
            baseline: a
            targets:
              - { backend: a, weight: 30 }
              - { backend: b, weight: 70 }
            sticky: { header: x-user-id, salt: exp-1 }
        """

    let dir: URL
    let configPath: String
    let control: ControlPlane
    let server: AdminServer

    /// Writes the config (and token file), builds the control plane and starts the admin server with
    /// `allowedHosts` and `limits`.
    init(yaml: String = AdminFixture.yaml, tokenFileContents: String? = nil, allowedHosts: [String] = [],
         limits: AdminServerLimits = AdminServerLimits()) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-admin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        configPath = dir.appendingPathComponent("sluice.yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        var tokenPath: String?
        if let tokenFileContents {
            tokenPath = dir.appendingPathComponent("admin-token").path
            try tokenFileContents.write(toFile: tokenPath!, atomically: true, encoding: .utf8)
        }
        let config = try ConfigLoader.load(path: configPath)
        control = try ControlPlane(config: config, configPath: configPath, workers: 1)
        server = try AdminServer.start(config: AdminConfig(host: "127.0.0.1", port: 0, tokenFile: tokenPath, allowedHosts: allowedHosts),
                                       control: control, logger: AdminFixture.quietLogger, limits: limits)
    }

    /// Warnings and worse only, so test output stays readable.
    static var quietLogger: Logger {
        var logger = Logger(label: "sluice.admin.test")
        logger.logLevel = .warning
        return logger
    }

    /// `http://127.0.0.1:PORT`.
    var base: String { "http://127.0.0.1:\(server.address.port)" }

    /// Stops the server and removes the scratch directory.
    func tearDown() {
        server.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Replaces the config file (for /reload).
    func writeConfig(_ yaml: String) throws {
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }
}

/// What curl saw.
struct HTTPResult {
    /// Status code (0 when curl failed to connect).
    var status: Int
    /// Response header fields, names lowercased (last response only).
    var headers: [String: String]
    /// Body text.
    var body: String
    /// curl's exit status.
    var curlExit: Int32

    /// The body parsed as a JSON object.
    var json: [String: Any] {
        get throws {
            let value = try JSONSerialization.jsonObject(with: Data(body.utf8))
            guard let object = value as? [String: Any] else { throw TestFailure("body is not a JSON object: \(body)") }
            return object
        }
    }
}

/// A failure with a message.
struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

/// Runs `curl` (a real HTTP client) against the admin server.
enum Curl {
    /// Sends one request; `extra` are further curl arguments (e.g. `-G --data-urlencode key=...`).
    static func request(_ method: String, _ url: String, body: String? = nil, headers: [String] = [],
                        extra: [String] = []) throws -> HTTPResult {
        let tmp = FileManager.default.temporaryDirectory
        let headerFile = tmp.appendingPathComponent("h-\(UUID().uuidString)").path
        let bodyFile = tmp.appendingPathComponent("b-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: headerFile)
            try? FileManager.default.removeItem(atPath: bodyFile)
        }
        var args = ["-sS", "--max-time", "10", "-D", headerFile, "-o", bodyFile, "-w", "%{http_code}", "-X", method]
        for h in headers { args += ["-H", h] }
        if let body { args += ["--data-binary", body, "-H", "Content-Type: application/json"] }
        args += extra
        args.append(url)
        let (exit, out) = try run("/usr/bin/env", ["curl"] + args, stdin: nil)
        let headerText = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        var headers: [String: String] = [:]
        for line in headerText.components(separatedBy: "\r\n") {
            if line.hasPrefix("HTTP/") { headers = [:]; continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let bodyText = (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? ""
        return HTTPResult(status: Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
                          headers: headers, body: bodyText, curlExit: exit)
    }

    /// Runs a program, feeding `stdin`, and returns its exit status and standard output.
    static func run(_ path: String, _ arguments: [String], stdin: String?) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Parses Prometheus text with the reference parser (`prometheus_client`, pip package prometheus-client).
enum PrometheusParser {
    /// One parsed sample.
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    static let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {"types": {}, "samples": []}
        for family in text_string_to_metric_families(sys.stdin.read()):
            out["types"][family.name] = family.type
            for s in family.samples:
                out["samples"].append([s.name, s.labels, s.value])
        print(json.dumps(out))
        """

    /// Family types by (parser-normalized) family name, and every sample.
    static func parse(_ text: String) throws -> (types: [String: String], samples: [Sample]) {
        let (exit, out) = try Curl.run("/usr/bin/env", ["python3", "-c", script], stdin: text)
        guard exit == 0 else { throw TestFailure("prometheus_client rejected the exposition (exit \(exit))") }
        guard let root = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let types = root["types"] as? [String: String], let raw = root["samples"] as? [[Any]] else {
            throw TestFailure("unexpected parser output: \(out)")
        }
        let samples = raw.map { s in
            Sample(name: s[0] as? String ?? "", labels: s[1] as? [String: String] ?? [:],
                   value: number(s[2]) ?? .nan)
        }
        return (types, samples)
    }
}

extension Array where Element == PrometheusParser.Sample {
    /// The value of the sample with this name and exactly these labels.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        first { $0.name == name && $0.labels == labels }?.value
    }
}

/// Sends raw bytes over TCP and returns everything the server answers (for malformed requests).
enum RawSocket {
    static func exchange(port: UInt16, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestFailure("connect failed") }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }
}

/// A JSON number as Double (JSONSerialization yields Int or Double on Linux).
func number(_ value: Any?) -> Double? {
    if let d = value as? Double { return d }
    if let i = value as? Int { return Double(i) }
    if let u = value as? UInt64 { return Double(u) }
    return nil
}
