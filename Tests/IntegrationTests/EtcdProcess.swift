import Foundation
import Glibc
import SluiceSupport

/// A real `etcd` (Debian's etcd-server 3.4, installed by scripts/deps.sh) on free loopback ports with a
/// temporary data directory, for the fleet suites. `stop()` ends it (SIGTERM); `restart()` starts it again on
/// the same ports and data; `deinit` kills it and removes the directory.
final class EtcdProcess: @unchecked Sendable {
    // @unchecked: used from the test's thread only.
    private var process: Process?
    let dir: String
    let clientPort: UInt16
    let peerPort: UInt16

    /// `127.0.0.1:PORT`, as a fleet endpoint.
    var endpoint: String { "127.0.0.1:\(clientPort)" }

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") else {
            throw TestError("etcd is not installed (run scripts/deps.sh, which installs etcd-server)")
        }
        clientPort = try freeLoopbackPort()
        var peer = try freeLoopbackPort()
        while peer == clientPort { peer = try freeLoopbackPort() }
        peerPort = peer
        dir = NSTemporaryDirectory() + "sluice-etcd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try start()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Starts etcd and waits (bounded) until it answers.
    func start(timeout: Double = 15) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        p.arguments = [
            "--name", "sluice-test", "--data-dir", dir + "/data",
            "--listen-client-urls", "http://127.0.0.1:\(clientPort)", "--advertise-client-urls", "http://127.0.0.1:\(clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(peerPort)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPort)",
            "--initial-cluster", "sluice-test=http://127.0.0.1:\(peerPort)", "--log-level", "error",
        ]
        p.standardInput = FileHandle.nullDevice
        let log = FileHandle(forWritingAtPath: dir + "/etcd.log") ?? {
            _ = FileManager.default.createFile(atPath: dir + "/etcd.log", contents: nil)
            return FileHandle(forWritingAtPath: dir + "/etcd.log")!
        }()
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
        try? log.close()
        process = p
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            if let r = try? SimpleHTTPClient.get(port: clientPort, path: "/health", timeoutSeconds: 1), r.status == 200,
               r.text.contains("true") { return }
            if !p.isRunning { throw TestError("etcd exited: \(self.log)") }
            usleep(50_000)
        }
        throw TestError("etcd not healthy within \(timeout)s: \(self.log)")
    }

    /// SIGTERM and wait.
    func stop() {
        guard let p = process, p.isRunning else { return }
        _ = Glibc.kill(p.processIdentifier, SIGTERM)
        let deadline = monotonicSeconds() + 10
        while p.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
        kill()
    }

    /// Starts it again on the same ports and data.
    func restart() throws {
        stop()
        try start()
    }

    private func kill() {
        guard let p = process else { return }
        if p.isRunning {
            _ = Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        process = nil
    }

    var log: String { (try? String(contentsOfFile: dir + "/etcd.log", encoding: .utf8)) ?? "" }
}
