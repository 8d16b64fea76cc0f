import Foundation
import Glibc

/// A raw TCP client for the admin port with timeouts, for timing and for clients that misbehave on
/// purpose (silent, dribbling, holding a connection).
final class AdminWire {
    /// The connected socket.
    let fd: Int32
    /// When `connect` returned.
    let connectedAt: Date

    /// Connects to 127.0.0.1:`port` (blocking socket, `SO_RCVTIMEO` of `timeout` seconds).
    init(port: UInt16, timeout: Double = 15) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw TestFailure("connect failed: errno \(errno)") }
        self.fd = fd
        connectedAt = Date()
    }

    deinit { close(fd) }

    /// Sends `text`; false when the connection is gone.
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return n == bytes.count
    }

    /// Whether the server has closed (or answered): readable within `millis`.
    func readable(within millis: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, millis) > 0
    }

    /// Reads until the server closes (or the receive timeout passes); the text and whether it was a clean close.
    func readToEnd() -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out += chunk[0..<n]; continue }
            return (String(decoding: out, as: UTF8.self), n == 0 || errno == ECONNRESET)
        }
    }

    /// One request on a new connection: status, lowercased header fields, body and seconds taken.
    static func exchange(port: UInt16, _ request: String, timeout: Double = 5) throws
        -> (status: Int, headers: [(String, String)], body: String, seconds: Double) {
        let started = Date()
        let wire = try AdminWire(port: port, timeout: timeout)
        guard wire.send(request) else { throw TestFailure("send failed") }
        let (text, _) = wire.readToEnd()
        let seconds = Date().timeIntervalSince(started)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no complete response after \(seconds) s: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return (status, headers, String(text[split.upperBound...]), seconds)
    }
}
