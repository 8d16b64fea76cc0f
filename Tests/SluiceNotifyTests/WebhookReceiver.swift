import Foundation
import Glibc
import Synchronization

/// One request a ``WebhookReceiver`` read, with the status it answered (0: it did not answer).
struct ReceivedRequest: Sendable {
    /// Request method.
    var method: String
    /// Request target (path and query).
    var target: String
    /// Header fields, names lowercased (a repeated name keeps its last value).
    var headers: [String: String]
    /// The body, exactly as sent (Content-Length framed).
    var body: [UInt8]
    /// The status answered: 200, 500, or 0 when hanging.
    var status: Int
}

/// A real HTTP/1.1 webhook receiver on 127.0.0.1, port 0: an accept thread and one thread per
/// connection, blocking sockets, one request per connection (Sluice's notifier closes after each).
///
/// It records every request it reads, then answers 500 to the first `failFirst` ones and 200 to
/// the rest, or, with `hang`, never answers and holds the connection open until ``stop()``.
final class WebhookReceiver: Sendable {
    /// The bound port.
    let port: UInt16
    private let listenFD: Int32
    private let failFirst: Int
    private let hang: Bool
    private let state = Mutex((requests: [ReceivedRequest](), open: Set<Int32>(), stopped: false))

    /// Binds, listens and starts accepting.
    init(failFirst: Int = 0, hang: Bool = false) throws {
        signal(SIGPIPE, SIG_IGN)
        self.failFirst = failFirst
        self.hang = hang
        (listenFD, port) = try Self.bindLoopback(listen: true)
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    /// Every request read so far, in arrival order.
    var requests: [ReceivedRequest] { state.withLock { $0.requests } }

    /// Stops accepting and shuts every open connection down (a hanging one included).
    func stop() {
        state.withLock { s in
            if s.stopped { return }
            s.stopped = true
            shutdown(listenFD, Int32(SHUT_RDWR))
            for fd in s.open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// A 127.0.0.1 port nothing listens on (bound, then closed): connecting there is refused.
    static func closedPort() throws -> UInt16 {
        let (fd, port) = try bindLoopback(listen: false)
        close(fd)
        return port
    }

    /// A TCP socket bound to 127.0.0.1 on an ephemeral port, listening if asked.
    static func bindLoopback(listen: Bool) throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ReceiverError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && (!listen || Glibc.listen(fd, 64) == 0) && getsockname(fd, sa, &len) == 0
            }
        }
        guard ok else {
            close(fd)
            throw ReceiverError("bind/listen: errno \(errno)")
        }
        return (fd, UInt16(bigEndian: addr.sin_port))
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            let accepted = state.withLock { s -> Bool in
                if s.stopped { return false }
                s.open.insert(fd)
                return true
            }
            guard accepted else { close(fd); break }
            let t = Thread { [self] in serve(fd) }
            t.start()
        }
        close(listenFD)
    }

    private func serve(_ fd: Int32) {
        defer {
            state.withLock { _ = $0.open.remove(fd) }
            close(fd)
        }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard var request = readRequest(fd) else { return }
        let status = state.withLock { s -> Int in
            let status = hang ? 0 : (s.requests.count < failFirst ? 500 : 200)
            request.status = status
            s.requests.append(request)
            return status
        }
        if status == 0 {
            // Hang: wait until the client gives up or the receiver stops.
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) > 0 {}
            return
        }
        let body = status == 200 ? "{\"ok\":true}" : "{\"error\":\"try again\"}"
        let response = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Internal Server Error")\r\n"
            + "content-type: application/json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n" + body
        let bytes = Array(response.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads one request head and its Content-Length body; nil if the peer closed or timed out first.
    private func readRequest(_ fd: Int32) -> ReceivedRequest? {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            if let r = buffer.firstRange(of: separator) { headEnd = r.lowerBound; break }
            guard fill() else { return nil }
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd! + 4
        while buffer.count < bodyStart + length {
            guard fill() else { return nil }
        }
        return ReceivedRequest(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers,
                               body: Array(buffer[bodyStart..<(bodyStart + length)]), status: 0)
    }
}

/// A setup failure of the test receiver.
struct ReceiverError: Error, CustomStringConvertible {
    /// What failed.
    var description: String

    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 5 ms until it holds or `seconds` pass; returns its last value.
func eventually(within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
