import Foundation
import Glibc
import SluiceConfig
import SluiceCore
import SluiceProxy

/// A real Sluice data plane started in this process on 127.0.0.1 (port 0) from YAML text.
final class ProxyHarness: @unchecked Sendable {
    // @unchecked: fields are set once in init and only read afterwards.
    let control: ControlPlane
    let server: ProxyServer
    let port: UInt16

    /// Starts `workers` workers for `yaml` (its listener should use port 0).
    init(yaml: String, workers: Int = 1) throws {
        signal(SIGPIPE, SIG_IGN)
        let config = try ConfigLoader.parse(yaml: yaml, file: "test.yaml")
        control = try ControlPlane(config: config, configPath: nil, workers: workers)
        server = ProxyServer(workerCount: workers, publisher: control.publisher)
        try server.bind(config.listeners)
        port = server.bound.values.first!.port
        server.start()
        control.healthChecker.start()
        control.setReady(true)
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() {
        control.healthChecker.stop()
        server.stop()
    }

    /// One backend of a generated config.
    struct Backend {
        var name: String
        var port: UInt16
        var version: String? = nil
        var requestTimeout = "3s"
        var connectTimeout = "500ms"
        /// `http1` (nil: the default) or `h2`.
        var `protocol`: String? = nil
    }

    /// A config with one listener on 127.0.0.1:0, the given backends and one route `models`
    /// (prefix `prefix`) splitting over `targets` (defaults: every backend, equal weights summing to 100).
    static func yaml(workers: Int = 1, limits: [String] = [], backends: [Backend], prefix: String = "/",
                     targets: [(String, Double)]? = nil, routeExtra: [String] = []) -> String {
        let t = targets ?? (backends.count == 1 ? [(backends[0].name, 100)] : [])
        var y = "workers: \(workers)\n"
        if !limits.isEmpty { y += "limits:\n" + limits.map { "  \($0)\n" }.joined() }
        y += "listeners:\n  - { name: test, address: 127.0.0.1:0 }\nbackends:\n"
        for b in backends {
            y += "  - { name: \(b.name), endpoints: [127.0.0.1:\(b.port)]"
            if let v = b.version { y += ", model_version: \(v)" }
            if let p = b.protocol { y += ", protocol: \(p)" }
            y += ", timeouts: { connect: \(b.connectTimeout), request: \(b.requestTimeout) } }\n"
        }
        y += "routes:\n  - name: models\n    match: { path_prefix: \(prefix) }\n    baseline: \(t[0].0)\n"
        for line in routeExtra { y += "    \(line)\n" }
        y += "    targets:\n"
        for (name, w) in t { y += "      - { backend: \(name), weight: \(w) }\n" }
        return y
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

    /// `curl -s -S` with extra arguments; headers via -D, body on stdout (use `-o /dev/null` for big bodies).
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

    var summary: String { "exit \(exitCode) status \(status) stderr=\(stderr) headers=\(rawHeaders) body=\(body.prefix(300))" }
}

/// Holds bytes filled by a reader thread; read only after the DispatchGroup wait.
final class DataBox: @unchecked Sendable {
    // @unchecked: written by exactly one reader before group.leave(), read after group.wait().
    var data = Data()
}

/// A value shared between test threads.
final class Locked<T>: @unchecked Sendable {
    // @unchecked: every access to `v` holds the lock.
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    func with<R>(_ body: (inout T) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&v)
    }
    var value: T { with { $0 } }
}

/// Runs `body(i)` for i in 0..<n on n real threads at once and waits (bounded) for all of them.
func runConcurrently(_ n: Int, timeout: TimeInterval = 60, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        let t = Thread { body(i); group.leave() }
        t.start()
    }
    return group.wait(timeout: .now() + timeout) == .success
}

/// Resident set size of this process in KiB (VmRSS).
func residentKiB() -> Int {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
    return 0
}

/// Samples VmRSS every 20 ms on a thread until `stop`; `peak` is the largest value seen.
final class RSSSampler: @unchecked Sendable {
    // @unchecked: state is behind Locked.
    private let state = Locked((peak: 0, running: true))
    private let done = DispatchSemaphore(value: 0)
    init() {
        let t = Thread { [state, done] in
            while state.value.running {
                let r = residentKiB()
                state.with { $0.peak = max($0.peak, r) }
                usleep(20_000)
            }
            done.signal()
        }
        t.start()
    }
    func stop() -> Int {
        state.with { $0.running = false }
        _ = done.wait(timeout: .now() + 2)
        return state.value.peak
    }
}

/// Path of the `sluice` executable built next to the test bundle.
func sluiceBinary(filePath: String = #filePath) -> String? {
    let fm = FileManager.default
    var dirs: [URL] = []
    let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    dirs.append(arg0.deletingLastPathComponent())
    let bundle = URL(fileURLWithPath: Bundle.main.bundlePath).resolvingSymlinksInPath()
    dirs.append(bundle)
    dirs.append(bundle.deletingLastPathComponent())
    for a in CommandLine.arguments.dropFirst() where a.hasSuffix(".xctest") {
        dirs.append(URL(fileURLWithPath: a).resolvingSymlinksInPath().deletingLastPathComponent())
    }
    // Walk up from each candidate a few levels (the xctest bundle may be a directory).
    var candidates: [String] = []
    for d in dirs {
        var u = d
        for _ in 0..<4 {
            candidates.append(u.appendingPathComponent("sluice").path)
            u = u.deletingLastPathComponent()
        }
    }
    let repo = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    if let entries = try? fm.contentsOfDirectory(atPath: repo.path) {
        for e in entries.sorted() where e.hasPrefix(".build") {
            candidates.append(repo.appendingPathComponent(e).appendingPathComponent("debug/sluice").path)
        }
    }
    candidates.append(repo.appendingPathComponent(".build/debug/sluice").path)
    for c in candidates {
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: c, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: c) { return c }
    }
    return nil
}

/// The repository root, from this file's path.
func repoRoot(filePath: String = #filePath) -> URL {
    URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
