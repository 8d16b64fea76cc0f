import Foundation
import Glibc
import Testing

/// The four ways a request crosses Sluice: the client's protocol, then the backend's. A behaviour
/// Sluice promises is tested once, as one test body run on every pair (`@Test(arguments:
/// ProtocolPair.allCases)`), with real clients (curl `--http1.1` / `--http2-prior-knowledge`) and
/// real backends (HTTP/1.1 servers, and the same servers behind nghttpx for h2c).
enum ProtocolPair: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case h1h1 = "h1→h1", h1h2 = "h1→h2", h2h1 = "h2→h1", h2h2 = "h2→h2"

    var clientIsH2: Bool { self == .h2h1 || self == .h2h2 }
    var backendIsH2: Bool { self == .h1h2 || self == .h2h2 }
    /// curl's flag for the client side.
    var curlFlag: String { clientIsH2 ? "--http2-prior-knowledge" : "--http1.1" }
    /// The backend's `protocol:` in the config.
    var backendProtocol: String { backendIsH2 ? "h2" : "http1" }
    var testDescription: String { rawValue }

    /// A backend for this pair in front of the HTTP/1.1 server on `port`: that server itself, or
    /// nghttpx speaking h2c (prior knowledge) to Sluice and HTTP/1.1 to it.
    func backend(http1Port port: UInt16) throws -> PairBackend { try PairBackend(pair: self, http1Port: port) }
}

/// The backend one pair's test talks to (see ``ProtocolPair/backend(http1Port:)``).
final class PairBackend {
    /// Where Sluice connects.
    let port: UInt16
    private let front: H2Front?

    init(pair: ProtocolPair, http1Port: UInt16) throws {
        if pair.backendIsH2 {
            let f = try H2Front(backendPort: http1Port)
            front = f
            port = f.port
        } else {
            front = nil
            port = http1Port
        }
    }

    func stop() { front?.stop() }
}

/// nghttpx with an h2c (prior knowledge) frontend on a free loopback port, forwarding over
/// HTTP/1.1 to `backendPort`: an HTTP/2 backend that behaves like the HTTP/1.1 server behind it
/// (stalls included). It passes x-forwarded-proto and x-request-id through untouched.
final class H2Front {
    let port: UInt16
    private let process = Process()
    private let dir: String

    init(backendPort: UInt16) throws {
        port = try freeLoopbackPort()
        dir = NSTemporaryDirectory() + "sluice-h2front-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nghttpx", "--frontend=127.0.0.1,\(port);no-tls", "--backend=127.0.0.1,\(backendPort)",
                             "--workers=1", "--pid-file=\(dir)/pid", "--conf=/dev/null", "--errorlog-file=\(dir)/err",
                             "--no-ocsp", "--no-via", "--no-strip-incoming-x-forwarded-proto", "--no-add-x-forwarded-proto"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready once it accepts (a request would reach a backend that may be made to stall).
        let ready = eventually(5) { (try? RawSocket(port: port, timeout: 1)).map { $0.close(); return true } ?? false }
        if !ready { stop(); throw TestError("nghttpx did not listen on \(port)") }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension Command {
    /// curl uploading from a pipe that delivers `first` and then stalls: `whileStalled` runs with
    /// the pipe still open, then the pipe is closed and curl's answer collected. (curl reads the
    /// response only once its input ends, so what happens meanwhile is observed on Sluice's side.)
    static func curlStallingUpload(_ args: [String], first: String, timeout: TimeInterval = 20,
                                   whileStalled: () -> Void) throws -> CurlResult {
        let headerFile = NSTemporaryDirectory() + "h-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: headerFile) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["curl", "-s", "-S", "-D", headerFile, "--max-time", "\(Int(timeout))", "-T", "-", "-H", "Expect:"] + args
        let inp = Pipe(), out = Pipe(), err = Pipe()
        p.standardInput = inp
        p.standardOutput = out
        p.standardError = err
        try p.run()
        inp.fileHandleForWriting.write(Data(first.utf8))
        let outBox = DataBox(), errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        whileStalled()
        try? inp.fileHandleForWriting.close()
        let started = Date()
        while p.isRunning && Date().timeIntervalSince(started) < timeout + 5 { usleep(10_000) }
        if p.isRunning { p.terminate() }
        group.wait()
        p.waitUntilExit()
        let raw = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return CurlResult(exitCode: p.terminationStatus, rawHeaders: raw, body: String(decoding: outBox.data, as: UTF8.self),
                          stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// `curl` with timing: what it saw and how long it took.
    static func timedCurl(_ args: [String], timeout: TimeInterval = 20) throws -> (CurlResult, TimeInterval) {
        let started = Date()
        let r = try curl(args, timeout: timeout)
        return (r, Date().timeIntervalSince(started))
    }
}

extension CurlResult {
    /// How many times field `name` (lowercase) appears in the last response head.
    func headerCount(_ name: String) -> Int {
        let blocks = rawHeaders.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
        guard let last = blocks.last else { return 0 }
        return last.split(separator: "\r\n").filter { line in
            guard let colon = line.firstIndex(of: ":") else { return false }
            return line[..<colon].lowercased() == name
        }.count
    }

    /// The `header_list` of a model server's `/echo` answer: (lowercased name, value) in order.
    var echoedHeaders: [(String, String)] {
        guard let list = json?["header_list"] as? [[String]] else { return [] }
        return list.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }
    }

    /// The values the backend saw for header `name`.
    func echoed(_ name: String) -> [String] { echoedHeaders.filter { $0.0 == name }.map { $0.1 } }
}
