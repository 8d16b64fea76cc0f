import Glibc
import SluiceCore

/// One active health probe: `GET path HTTP/1.1` with `Connection: close` to one endpoint,
/// passing when the status line says 2xx before the timeout. Runs on the health-checker
/// thread and waits (poll) on its own socket; the whole probe — connect, write, read of the
/// status line — must fit in `timeoutNanos`.
enum HealthCheckProbe {
    /// Why a probe failed (for the transition log).
    enum Outcome: Equatable, Sendable {
        case passed(status: Int)
        case failed(reason: String)

        /// Whether the probe counts as a pass.
        var passed: Bool { if case .passed = self { true } else { false } }
    }

    /// The request bytes for `path` against `host` (the endpoint's `host:port`).
    static func request(path: String, host: String) -> [UInt8] {
        Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: sluice-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
    }

    /// The status code of an HTTP/1.x status line at the start of `bytes`, or nil if incomplete/invalid.
    static func status(_ bytes: ArraySlice<UInt8>) -> Int? {
        // "HTTP/1.x NNN"
        guard bytes.count >= 12 else { return nil }
        let b = Array(bytes.prefix(12))
        guard b[0] == 72, b[1] == 84, b[2] == 84, b[3] == 80, b[4] == 47, b[5] == 49, b[6] == 46, b[8] == 32 else { return -1 }
        var code = 0
        for d in b[9...11] {
            guard d >= 48 && d <= 57 else { return -1 }
            code = code * 10 + Int(d - 48)
        }
        return code
    }

    /// Probes `address` once.
    static func run(address: SocketAddress, path: String, timeoutNanos: UInt64) -> Outcome {
        let deadline = MonotonicClock.now() + max(timeoutNanos, 1_000_000)
        guard let (fd, inProgress) = Sockets.connect(address) else {
            return .failed(reason: "connect: \(SocketIO.describe(errno))")
        }
        defer { SocketIO.close(fd) }
        if inProgress {
            guard wait(fd, events: Int16(POLLOUT), deadline: deadline) else { return .failed(reason: "connect timed out") }
            let err = SocketIO.pendingError(fd)
            if err != 0 { return .failed(reason: "connect: \(SocketIO.describe(err))") }
        }
        let req = request(path: path, host: address.description)
        var sent = 0
        while sent < req.count {
            let r = req.withUnsafeBytes { SocketIO.write(fd, $0.baseAddress! + sent, req.count - sent) }
            switch r {
            case .bytes(let n): sent += n
            case .wouldBlock:
                guard wait(fd, events: Int16(POLLOUT), deadline: deadline) else { return .failed(reason: "write timed out") }
            case .failed(let code): return .failed(reason: "write: \(SocketIO.describe(code))")
            }
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            if let code = status(response[...]) {
                guard code >= 0 else { return .failed(reason: "not an HTTP/1.x response") }
                return (200..<300).contains(code) ? .passed(status: code) : .failed(reason: "status \(code)")
            }
            let r = buffer.withUnsafeMutableBytes { SocketIO.read(fd, $0.baseAddress!, $0.count) }
            switch r {
            case .bytes(0): return .failed(reason: "closed before a status line")
            case .bytes(let n): response.append(contentsOf: buffer[0..<n])
            case .wouldBlock:
                guard wait(fd, events: Int16(POLLIN), deadline: deadline) else { return .failed(reason: "timed out") }
            case .failed(let code): return .failed(reason: "read: \(SocketIO.describe(code))")
            }
        }
    }

    /// Waits for `events` on `fd` until `deadline`; false on timeout.
    private static func wait(_ fd: Int32, events: Int16, deadline: UInt64) -> Bool {
        while true {
            let now = MonotonicClock.now()
            if now >= deadline { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))
            let rc = poll(&p, 1, ms)
            if rc > 0 { return true }
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { return false }
        }
    }
}
