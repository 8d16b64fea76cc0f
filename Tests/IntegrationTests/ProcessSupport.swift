import Foundation
import Glibc
import SluiceSupport

// Helpers for the process-level end-to-end suites (Lifecycle*, Policy*): the real `sluice run`
// binary as a child process, its admin API, wrk, and throttled client traffic loops.

/// A loopback port that was free a moment ago: bound to port 0, read back, closed.
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestError("socket: errno \(errno)") }
    defer { Glibc.close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { throw TestError("bind: errno \(errno)") }
    var bound = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &bound) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return UInt16(bigEndian: bound.sin_port)
}

/// Tries one TCP connect to 127.0.0.1:`port`; returns 0 on success, else the errno (ECONNREFUSED…).
func tryConnect(port: UInt16, timeoutSeconds: Int = 1) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return errno }
    defer { Glibc.close(fd) }
    var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return rc == 0 ? 0 : errno
}

/// Seconds since an arbitrary origin (monotonic).
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A `sluice run --config FILE` child process on loopback ports chosen for it.
///
/// The YAML text given to `start`/`rewrite` may contain `{LISTEN}` and `{ADMIN}`, replaced by the
/// listener and admin ports. stderr goes to a file in the process's temp dir (`log`). `stop()` sends
/// SIGTERM, then SIGKILL after a grace period; `deinit` SIGKILLs whatever still runs.
final class SluiceProcess: @unchecked Sendable {
    // @unchecked: fields are set in init; `process` is only used from the test's thread and signals.
    let process: Process
    let dir: String
    let configPath: String
    let stderrPath: String
    let port: UInt16
    let adminPort: UInt16

    var pid: pid_t { process.processIdentifier }
    var base: String { "http://127.0.0.1:\(port)" }
    var adminBase: String { "http://127.0.0.1:\(adminPort)" }

    /// Starts the binary and waits (bounded) until `/ready` answers 200. `descriptorLimit` runs it
    /// under `prlimit --nofile=N:N` (prlimit execs it: `pid` is sluice's).
    init(yaml: String, port: UInt16? = nil, adminPort: UInt16? = nil, readyTimeout: Double = 15, descriptorLimit: Int? = nil,
         arguments: [String] = [], environment: [String: String] = [:]) throws {
        let sluice = try sluiceExecutable()
        self.port = try port ?? freeLoopbackPort()
        var admin = try adminPort ?? freeLoopbackPort()
        while admin == self.port { admin = try freeLoopbackPort() }
        self.adminPort = admin
        dir = NSTemporaryDirectory() + "sluice-e2e-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        configPath = dir + "/sluice.yaml"
        stderrPath = dir + "/stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        try writeConfig(yaml)
        if let n = descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            process.arguments = ["--nofile=\(n):\(n)", sluice, "run", "--config", configPath] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: sluice)
            process.arguments = ["run", "--config", configPath] + arguments
        }
        process.standardInput = FileHandle.nullDevice
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        // One open file description for both streams (a shared offset), closed here once the child has it.
        let out = FileHandle(forUpdatingAtPath: stderrPath)
        process.standardOutput = out
        process.standardError = out
        do {
            try process.run()
            try? out?.close()
        } catch {
            try? out?.close()
            removeFiles()
            throw error
        }
        let deadline = monotonicSeconds() + readyTimeout
        while true {
            if !process.isRunning {
                let how = process.terminationReason == .exit ? "exited \(process.terminationStatus)" : "killed by signal \(process.terminationStatus)"
                let text = log
                removeFiles()
                throw TestError("sluice \(how) before it was ready:\n\(text)")
            }
            if (try? adminGet("/ready", timeout: 1).status) == 200 { break }
            if monotonicSeconds() > deadline {
                killHard()
                let text = log
                removeFiles()
                throw TestError("sluice not ready within \(readyTimeout)s:\n\(text)")
            }
            usleep(20_000)
        }
    }

    deinit { killHard() }

    /// The config text with the ports filled in.
    func render(_ yaml: String) -> String {
        yaml.replacingOccurrences(of: "{LISTEN}", with: "\(port)").replacingOccurrences(of: "{ADMIN}", with: "\(adminPort)")
    }

    /// Replaces the config file atomically (write + rename), so a concurrent reload never reads half a file.
    func writeConfig(_ yaml: String) throws {
        try render(yaml).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Everything the process wrote to stdout/stderr so far.
    var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) {
        if process.isRunning { _ = kill(pid, sig) }
    }

    /// Waits up to `timeout` seconds for the process to exit; its exit status, or nil if still running.
    func waitForExit(timeout: Double) -> Int32? {
        let deadline = monotonicSeconds() + timeout
        while process.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// SIGTERM, up to `grace` seconds to drain, then SIGKILL. Idempotent.
    func stop(grace: Double = 5) {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if waitForExit(timeout: grace) == nil { killHard() }
    }

    /// SIGKILL and reap (last resort).
    func killHard() {
        if process.isRunning {
            _ = kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
    }

    func removeFiles() { try? FileManager.default.removeItem(atPath: dir) }

    // MARK: admin API

    func adminGet(_ path: String, timeout: Double = 5) throws -> SimpleHTTPResponse {
        try SimpleHTTPClient.get(port: adminPort, path: path, timeoutSeconds: timeout)
    }

    func adminPost(_ path: String, json: String = "", timeout: Double = 10) throws -> SimpleHTTPResponse {
        let client = SimpleHTTPClient(port: adminPort, timeoutSeconds: timeout)
        defer { client.close() }
        return try client.request("POST", path, headers: [("content-type", "application/json"), ("connection", "close")], text: json)
    }

    /// `GET /stats` parsed.
    func stats() throws -> [String: Any] {
        let r = try adminGet("/stats")
        guard r.status == 200, let j = r.jsonObject() else { throw TestError("/stats: \(r.status) \(r.text.prefix(300))") }
        return j
    }

    /// `config_version` from `/stats`, or -1.
    var configVersion: Int { ((try? stats())?["config_version"] as? Int) ?? -1 }

    /// The `routes[]` entry named `name` from `/stats`.
    func routeStats(_ name: String) throws -> [String: Any] {
        let routes = (try stats()["routes"] as? [[String: Any]]) ?? []
        guard let r = routes.first(where: { $0["name"] as? String == name }) else { throw TestError("route \(name) not in /stats") }
        return r
    }

    /// `backend → weight` of route `name` from `/stats`.
    func weights(_ name: String) throws -> [String: Double] {
        let targets = (try routeStats(name)["targets"] as? [[String: Any]]) ?? []
        var w: [String: Double] = [:]
        for t in targets { if let b = t["backend"] as? String { w[b] = (t["weight"] as? NSNumber)?.doubleValue } }
        return w
    }
}

/// The `sluice` executable (same lookup as the CLI suite).
func sluiceExecutable() throws -> String {
    guard let b = sluiceBinary() else {
        throw TestError("sluice executable not found next to \(CommandLine.arguments[0]) or under \(repoRoot().path)/.build*/debug")
    }
    return b
}

/// A config with listener `{LISTEN}`, admin `{ADMIN}`, the given backends and one route.
func e2eYAML(workers: Int = 2, backends: [(String, UInt16)], route: String = "models", prefix: String = "/",
             targets: [(String, Double)], routeExtra: [String] = []) -> String {
    var y = "workers: \(workers)\nlisteners:\n  - { name: public, address: 127.0.0.1:{LISTEN} }\n"
    y += "admin:\n  address: 127.0.0.1:{ADMIN}\nbackends:\n"
    for (name, port) in backends {
        y += "  - { name: \(name), endpoints: [127.0.0.1:\(port)], model_version: \(name)-v, timeouts: { connect: 500ms, request: 5s } }\n"
    }
    y += "routes:\n  - name: \(route)\n    match: { path_prefix: \(prefix) }\n    baseline: \(targets[0].0)\n"
    for line in routeExtra { y += "    \(line)\n" }
    y += "    targets:\n"
    for (name, w) in targets { y += "      - { backend: \(name), weight: \(w) }\n" }
    return y
}

/// What wrk reported.
struct WrkResult {
    var requests = 0
    var connectErrors = 0, readErrors = 0, writeErrors = 0, timeoutErrors = 0
    var non2xx3xx = 0
    var output = ""
    var exitCode: Int32 = -1

    var socketErrors: Int { connectErrors + readErrors + writeErrors + timeoutErrors }

    /// One line for the test log.
    var summary: String {
        "wrk: \(requests) requests, socket errors \(connectErrors)/\(readErrors)/\(writeErrors)/\(timeoutErrors) (connect/read/write/timeout), non-2xx/3xx \(non2xx3xx)"
    }

    init(output: String, exitCode: Int32) {
        self.output = output
        self.exitCode = exitCode
        func first(_ pattern: String) -> [Int]? {
            guard let re = try? NSRegularExpression(pattern: pattern),
                  let m = re.firstMatch(in: output, range: NSRange(output.startIndex..., in: output)) else { return nil }
            return (1..<m.numberOfRanges).compactMap { Range(m.range(at: $0), in: output).flatMap { Int(output[$0]) } }
        }
        requests = first("([0-9]+) requests in")?.first ?? 0
        if let e = first("Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)"), e.count == 4 {
            (connectErrors, readErrors, writeErrors, timeoutErrors) = (e[0], e[1], e[2], e[3])
        }
        non2xx3xx = first("Non-2xx or 3xx responses: ([0-9]+)")?.first ?? 0
    }
}

/// Runs wrk on a background thread; `wait()` returns its parsed report.
final class WrkRun: @unchecked Sendable {
    // @unchecked: `result` is written once by the thread before `done` is signalled.
    private var result: WrkResult?
    private let done = DispatchSemaphore(value: 0)

    init(url: String, threads: Int = 1, connections: Int = 16, seconds: Int) {
        let t = Thread { [self] in
            let c = try? Command.run("/usr/bin/wrk", ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--timeout", "3s", url],
                                     timeout: Double(seconds) + 15)
            result = WrkResult(output: (c?.stdout ?? "") + (c?.stderr ?? ""), exitCode: c?.status ?? -1)
            done.signal()
        }
        t.start()
    }

    func wait(timeout: Double = 30) -> WrkResult {
        if done.wait(timeout: .now() + timeout) == .timedOut { return WrkResult(output: "wrk did not finish", exitCode: -1) }
        return result!
    }
}

/// One response seen by a `TrafficLoop`.
struct TrafficSample: Sendable {
    /// When the request was sent (monotonic seconds).
    var sent: Double
    /// When its answer (or failure) arrived.
    var time: Double
    var status: Int
    var target: String
    var error: String?
}

/// `threads` keep-alive clients sending `GET path` to 127.0.0.1:`port`, each at most `perThreadRate`
/// requests per second, recording every answer until `stop()`.
final class TrafficLoop: @unchecked Sendable {
    // @unchecked: shared state is behind Locked; the semaphores are thread-safe.
    let samples = Locked<[TrafficSample]>([])
    private let running = Locked(true)
    private let finished = DispatchSemaphore(value: 0)
    private let threads: Int

    init(port: UInt16, path: String = "/echo", threads: Int, perThreadRate: Double, headers: [(String, String)] = []) {
        self.threads = threads
        let interval = 1 / perThreadRate
        for _ in 0..<threads {
            let t = Thread { [self] in
                let client = SimpleHTTPClient(port: port, timeoutSeconds: 5)
                var next = monotonicSeconds()
                while running.value {
                    let sample: TrafficSample
                    let sent = monotonicSeconds()
                    do {
                        let r = try client.request("GET", path, headers: headers, collectBody: false)
                        sample = TrafficSample(sent: sent, time: monotonicSeconds(), status: r.status, target: r.header("x-sluice-target") ?? "none")
                    } catch {
                        sample = TrafficSample(sent: sent, time: monotonicSeconds(), status: 0, target: "none", error: "\(error)")
                        client.close()
                    }
                    samples.with { $0.append(sample) }
                    next += interval
                    let now = monotonicSeconds()
                    if next > now { usleep(UInt32((next - now) * 1_000_000)) } else { next = now }
                }
                client.close()
                finished.signal()
            }
            t.start()
        }
    }

    /// Stops every client and waits (bounded) for them.
    func stop() {
        running.with { $0 = false }
        for _ in 0..<threads { _ = finished.wait(timeout: .now() + 10) }
    }
}

/// Sends `GET path` with `header: key` for every key over one keep-alive connection to `port` and
/// returns the `x-sluice-target` of each answer ("status N" for a non-200, "error …" for a failure).
func stickyTargets(port: UInt16, keys: [String], header: String = "x-user-id", path: String = "/echo") -> [String] {
    let client = SimpleHTTPClient(port: port, timeoutSeconds: 5)
    defer { client.close() }
    var out: [String] = []
    out.reserveCapacity(keys.count)
    for k in keys {
        do {
            let r = try client.request("GET", path, headers: [(header, k)], collectBody: false)
            out.append(r.status == 200 ? (r.header("x-sluice-target") ?? "none") : "status \(r.status)")
        } catch {
            out.append("error \(error)")
            client.close()
        }
    }
    return out
}
