import Foundation
import Glibc

/// A misbehaving HTTP backend on 127.0.0.1 (port 0): blocking sockets, one thread per connection.
final class FaultBackend: @unchecked Sendable {
    // @unchecked: mutable state lives in `state` (a Locked); the rest is immutable after init.
    enum Mode: Sendable {
        /// Accepts, reads the request, never answers (until stopped or the peer closes).
        case hang
        /// Sends a valid response head one byte every `byteIntervalMs`.
        case slowHeaders(byteIntervalMs: Int)
        /// Answers with a status line that is not HTTP.
        case garbageStatusLine
        /// Declares `declared` bytes of Content-Length, sends `sent`, then closes (FIN).
        case wrongContentLength(declared: Int, sent: Int)
        /// Declares `declared` bytes, sends `sent`, then resets (SO_LINGER 0 + close).
        case resetMidBody(declared: Int, sent: Int)
        /// Answers every request (keep-alive) with `code` and a small JSON body of its own.
        case status(Int)
        /// Answers each request with these exact bytes; then closes after `closeAfterMs` (nil: keep serving).
        case raw(String, closeAfterMs: Int?)
        /// Sends a response head declaring `declared` bytes and the first `sent` of them, then stalls
        /// (until stopped or the peer closes).
        case headThenStall(declared: Int, sent: Int)
        /// Answers every request 200 (keep-alive) as soon as its head is in, never reading a body
        /// (after `delayMs` when the head declares one), then reads the next head straight away:
        /// body bytes that reach it afterwards make a malformed request line, answered 400 before
        /// it closes. The request line of every head is kept (``requests``) and echoed in the
        /// answer's body with the connection's number. It listens with a small receive buffer and
        /// segment size, so that little of an unread body fits in the sockets on the way to it.
        case answerWithoutReadingBody(delayMs: Int)
    }

    let mode: Mode
    let port: UInt16
    private let listenFD: Int32
    private let state = Locked((accepted: 0, open: Set<Int32>(), stopped: false, requests: [(connection: Int, line: String)]()))

    var acceptedConnections: Int { state.value.accepted }
    /// `.answerWithoutReadingBody`: the request line of every head it read (at most 200 bytes of
    /// it) and the number of its connection (1 for the first accepted).
    var requests: [(connection: Int, line: String)] { state.value.requests }

    init(_ mode: Mode) throws {
        signal(SIGPIPE, SIG_IGN)
        self.mode = mode
        var small = false
        if case .answerWithoutReadingBody = mode { small = true }
        let (fd, port) = try FaultBackend.bindLoopback(listen: true, receiveBuffer: small ? 4096 : nil, maxSegment: small ? 536 : nil)
        listenFD = fd
        self.port = port
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// Stops accepting and shuts every open connection down.
    func stop() {
        state.with { s in
            if s.stopped { return }
            s.stopped = true
            shutdown(listenFD, Int32(SHUT_RDWR))
            for fd in s.open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private var stopped: Bool { state.value.stopped }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR && !stopped { continue }
                break
            }
            let number = state.with { s -> Int? in
                if s.stopped { return nil }
                s.accepted += 1
                s.open.insert(fd)
                return s.accepted
            }
            guard let number else { Glibc.close(fd); break }
            let t = Thread { [self] in
                serve(fd, connection: number)
                state.with { s in
                    s.open.remove(fd)
                    Glibc.close(fd)
                }
            }
            t.start()
        }
        Glibc.close(listenFD)
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
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

    /// Reads one request head (body ignored: the tests send none); false at EOF.
    private func readHead(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool { nextHead(fd, &buffer) != nil }

    /// Reads one request head and returns it (without its final CRLF CRLF); nil at EOF.
    private func nextHead(_ fd: Int32, _ buffer: inout [UInt8]) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 16384)
        var scanned = 0
        while true {
            if let end = findHeadEnd(buffer, from: scanned) {
                let head = Array(buffer[0..<(end - 4)])
                buffer.removeFirst(end)
                return head
            }
            scanned = max(0, buffer.count - 3)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 16384, 0) }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    private func findHeadEnd(_ b: [UInt8], from start: Int = 0) -> Int? {
        guard b.count >= 4, start <= b.count - 4 else { return nil }
        for i in start...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
        return nil
    }

    /// Blocks until the peer closes (or stop shuts the socket down).
    private func waitForClose(_ fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            return
        }
    }

    private func serve(_ fd: Int32, connection: Int) {
        var buffer: [UInt8] = []
        switch mode {
        case .hang:
            _ = readHead(fd, &buffer)
            waitForClose(fd)
        case .slowHeaders(let ms):
            guard readHead(fd, &buffer) else { return }
            let response = Array("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-slow: abcdefghijklmnopqrstuvwxyz\r\ncontent-length: 2\r\n\r\nok".utf8)
            for b in response {
                if stopped || !sendAll(fd, [b]) { return }
                usleep(useconds_t(ms * 1000))
            }
            waitForClose(fd)
        case .garbageStatusLine:
            guard readHead(fd, &buffer) else { return }
            _ = sendAll(fd, Array("HELLO 200 this is not http\r\nfoo bar\r\n\r\n".utf8))
            waitForClose(fd)
        case .wrongContentLength(let declared, let sent):
            guard readHead(fd, &buffer) else { return }
            _ = sendAll(fd, Array("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(declared)\r\n\r\n".utf8))
            _ = sendAll(fd, [UInt8](repeating: 0x61, count: sent))
            usleep(100_000)
            shutdown(fd, Int32(SHUT_WR))
        case .resetMidBody(let declared, let sent):
            guard readHead(fd, &buffer) else { return }
            _ = sendAll(fd, Array("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(declared)\r\n\r\n".utf8))
            _ = sendAll(fd, [UInt8](repeating: 0x62, count: sent))
            usleep(100_000)
            var lg = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
            // The caller's close() now sends RST.
        case .status(let code):
            let body = "{\"backend_error\": true, \"code\": \(code)}"
            while readHead(fd, &buffer) {
                let r = "HTTP/1.1 \(code) Backend Says So\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
                if !sendAll(fd, Array(r.utf8)) { return }
            }
        case .headThenStall(let declared, let sent):
            guard readHead(fd, &buffer) else { return }
            _ = sendAll(fd, Array("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(declared)\r\n\r\n".utf8))
            _ = sendAll(fd, [UInt8](repeating: 0x63, count: sent))
            waitForClose(fd)
        case .answerWithoutReadingBody(let delayMs):
            while let head = nextHead(fd, &buffer) {
                let text = String(decoding: head, as: UTF8.self)
                let lines = text.components(separatedBy: "\r\n")
                let line = String(lines[0].prefix(200))
                state.with { $0.requests.append((connection, line)) }
                let parts = lines[0].split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy({ $0 >= "A" && $0 <= "Z" }), parts[2] == "HTTP/1.1" else {
                    let body = "malformed request line"
                    _ = sendAll(fd, Array("HTTP/1.1 400 Bad Request\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)".utf8))
                    return
                }
                let hasBody = lines.dropFirst().contains { field in
                    let f = field.lowercased()
                    return (f.hasPrefix("content-length:") && f.dropFirst(15).trimmingCharacters(in: .whitespaces) != "0")
                        || f.hasPrefix("transfer-encoding:")
                }
                if hasBody { usleep(useconds_t(delayMs * 1000)) }
                let body = "\(connection) \(line)"
                let r = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
                if !sendAll(fd, Array(r.utf8)) { return }
            }
        case .raw(let response, let closeAfter):
            while readHead(fd, &buffer) {
                if !sendAll(fd, Array(response.utf8)) { return }
                if let ms = closeAfter {
                    usleep(useconds_t(ms * 1000))
                    return
                }
            }
        }
    }

    /// A socket bound to 127.0.0.1:0 (listening or not) and its port.
    /// `receiveBuffer` (SO_RCVBUF) and `maxSegment` (TCP_MAXSEG) are set before it listens, so
    /// every connection it accepts has them.
    static func bindLoopback(listen doListen: Bool, receiveBuffer: Int32? = nil, maxSegment: Int32? = nil) throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestError("socket: errno \(errno)") }
        if var v = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, socklen_t(MemoryLayout<Int32>.size)) }
        if var v = maxSegment { setsockopt(fd, Int32(IPPROTO_TCP), TCP_MAXSEG, &v, socklen_t(MemoryLayout<Int32>.size)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw TestError("bind: errno \(errno)") }
        if doListen { guard listen(fd, 128) == 0 else { Glibc.close(fd); throw TestError("listen: errno \(errno)") } }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: bound.sin_port))
    }
}

/// A port nobody listens on: bound but not listening, so connecting is refused and no one else can take it.
final class ClosedPort {
    let port: UInt16
    private let fd: Int32
    init() throws { (fd, port) = try FaultBackend.bindLoopback(listen: false) }
    func release() { Glibc.close(fd) }
}
