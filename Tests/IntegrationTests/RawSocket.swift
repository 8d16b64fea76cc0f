import Foundation
import Glibc

/// A blocking loopback client socket for hand-written (possibly hostile) HTTP bytes.
final class RawSocket {
    private(set) var fd: Int32
    /// Bytes received but not yet taken by `readResponse`.
    var pending: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; every receive waits at most `timeout` seconds.
    init(port: UInt16, timeout: Double = 5, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket: errno \(errno)") }
        if var rb = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, 4) }
        setTimeout(timeout)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(fd)
            throw TestError("connect 127.0.0.1:\(port): errno \(e)")
        }
    }

    deinit { close() }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sends everything; false if the peer is gone or the send timed out.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// One recv: bytes, empty at EOF, nil on timeout or error.
    func receive(max: Int = 65536) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: max)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            return Array(buf[0..<n])
        }
    }

    /// Reads until `pending` holds at least `count` bytes; false on EOF/timeout.
    private func fill(to count: Int) -> Bool {
        while pending.count < count {
            guard let b = receive(), !b.isEmpty else { return false }
            pending += b
        }
        return true
    }

    /// Reads one response (Content-Length, chunked, or no body for 1xx/204/304/HEAD).
    /// Returns nil when the connection ends or times out before it is complete.
    func readResponse(head isHEAD: Bool = false) -> RawResponse? {
        var headEnd: Int?
        while headEnd == nil {
            if let r = findCRLFCRLF(pending) { headEnd = r; break }
            guard let b = receive(), !b.isEmpty else { return nil }
            pending += b
        }
        let headBytes = Array(pending[0..<headEnd!])
        pending.removeFirst(headEnd! + 4)
        let text = String(decoding: headBytes, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [(String, String)] = []
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers.append((l[..<c].lowercased(), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)))
        }
        var r = RawResponse(status: status, headers: headers, body: [])
        if isHEAD || status < 200 || status == 204 || status == 304 { return r }
        if let cl = r.header("content-length").flatMap({ Int($0) }) {
            guard fill(to: cl) else { return nil }
            r.body = Array(pending[0..<cl])
            pending.removeFirst(cl)
        } else if r.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            while true {
                var lineEnd: Int?
                while lineEnd == nil {
                    if let i = findCRLF(pending) { lineEnd = i; break }
                    guard let b = receive(), !b.isEmpty else { return nil }
                    pending += b
                }
                let sizeText = String(decoding: pending[0..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
                pending.removeFirst(lineEnd! + 2)
                if size == 0 {
                    // No trailers expected: final CRLF.
                    guard fill(to: 2) else { return nil }
                    pending.removeFirst(2)
                    return r
                }
                guard fill(to: size + 2) else { return nil }
                r.body += pending[0..<size]
                pending.removeFirst(size + 2)
            }
        } else {
            // Until close.
            while let b = receive(), !b.isEmpty { pending += b }
            r.body = pending
            pending.removeAll()
        }
        return r
    }

    /// True if the peer closes (EOF or reset) within the receive timeout, discarding any bytes before it.
    func closedByPeer() -> Bool {
        while true {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
            if n == 0 { return true }
            if n < 0 {
                if errno == EINTR { continue }
                return errno == ECONNRESET
            }
        }
    }

    /// Reads one HTTP/2 frame (after the server's bytes of a connection this client opened with
    /// the preface); nil when the connection ends or a receive times out first.
    func readH2Frame() -> H2Frame? {
        guard fill(to: 9) else { return nil }
        let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
        guard fill(to: 9 + length) else { return nil }
        let stream = (UInt32(pending[5]) << 24 | UInt32(pending[6]) << 16 | UInt32(pending[7]) << 8 | UInt32(pending[8])) & 0x7fff_ffff
        let frame = H2Frame(type: pending[3], flags: pending[4], stream: stream, payload: Array(pending[9..<(9 + length)]))
        pending.removeFirst(9 + length)
        return frame
    }

    private func findCRLFCRLF(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    private func findCRLF(_ b: [UInt8]) -> Int? {
        guard b.count >= 2 else { return nil }
        for i in 0...(b.count - 2) where b[i] == 13 && b[i + 1] == 10 { return i }
        return nil
    }
}

/// A response read by `RawSocket`.
struct RawResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
}

/// An HTTP/2 frame read by `RawSocket` (RFC 9113 §4.1).
struct H2Frame {
    static let data: UInt8 = 0, headers: UInt8 = 1, rstStream: UInt8 = 3, settings: UInt8 = 4
    static let endStream: UInt8 = 0x1, ack: UInt8 = 0x1
    /// SETTINGS with ACK, to answer the server's SETTINGS.
    static let settingsAck: [UInt8] = [0, 0, 0, 4, 1, 0, 0, 0, 0]

    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: [UInt8]

    /// The error code of a RST_STREAM frame.
    var errorCode: UInt32? {
        guard type == H2Frame.rstStream, payload.count == 4 else { return nil }
        return UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16 | UInt32(payload[2]) << 8 | UInt32(payload[3])
    }
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
