import Glibc
import SluiceCore
import SluiceHTTP1

/// A tiny blocking HTTP/1.1 client over one keep-alive connection, shared by `sluice demo`,
/// `sluice stats` and the tests.
///
/// It reuses its connection while the server allows it, reconnects when needed (once, transparently, if a
/// reused connection turns out to be closed before any response byte arrived), reads Content-Length,
/// chunked and until-close bodies, and skips 1xx responses. Not thread-safe: use one client per thread.
public final class SimpleHTTPClient {
    /// The server's host (literal address or name).
    public let host: String
    /// The server's port.
    public let port: UInt16
    /// Connect, send and per-read timeout in seconds.
    public var timeoutSeconds: Double
    /// Number of TCP connections this client has opened.
    public private(set) var connectionsOpened = 0

    private var fd: Int32 = -1
    private var requestsOnConnection = 0
    private var buffer: [UInt8] = []
    private let scratchSize = 64 * 1024
    private let scratch: UnsafeMutableRawPointer
    private var responseBytesSeen = false

    /// What a request sends as its body.
    private enum BodySource {
        case none
        case bytes([UInt8])
        case pattern(count: Int, chunked: Bool)
    }

    /// Creates a client for `host:port`; nothing connects until the first request.
    public init(host: String = "127.0.0.1", port: UInt16, timeoutSeconds: Double = 10) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
    }

    /// Creates a client for an address written `host:port` (`[v6]:port` for IPv6); nil if it is malformed.
    public convenience init?(address: String, timeoutSeconds: Double = 10) {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        self.init(host: host, port: port, timeoutSeconds: timeoutSeconds)
    }

    deinit {
        close()
        scratch.deallocate()
    }

    /// Whether a connection is currently open.
    public var isConnected: Bool { fd >= 0 }

    /// Closes the connection, if any; the next request opens a new one.
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        requestsOnConnection = 0
        buffer.removeAll(keepingCapacity: true)
    }

    /// Sends `method path` with `headers` and an optional `body` (sent with Content-Length) and reads the response.
    ///
    /// Host, User-Agent and Content-Length are added unless given. A `Connection: close` header closes the
    /// connection after the response. With `collectBody` false the body is read and counted but not kept.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                        collectBody: Bool = true) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        try perform(method, path, headers, body.map { .bytes($0) } ?? .none, collectBody)
    }

    /// Like `request(_:_:headers:body:collectBody:)` with a UTF-8 text body.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [], text: String,
                        collectBody: Bool = true) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        try perform(method, path, headers, .bytes(Array(text.utf8)), collectBody)
    }

    /// Streams a `length`-byte `PatternBytes` body in 64 KiB writes, with Content-Length or chunked encoding,
    /// without holding it in memory, and reads the response.
    public func upload(_ method: String = "POST", _ path: String, headers: [(String, String)] = [], length: Int,
                       chunked: Bool = false, collectBody: Bool = true) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        try perform(method, path, headers, .pattern(count: length, chunked: chunked), collectBody)
    }

    /// One GET over a fresh connection, closed afterwards.
    public static func get(host: String = "127.0.0.1", port: UInt16, path: String, timeoutSeconds: Double = 5) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        let client = SimpleHTTPClient(host: host, port: port, timeoutSeconds: timeoutSeconds)
        defer { client.close() }
        return try client.request("GET", path)
    }

    private func perform(_ method: String, _ path: String, _ headers: [(String, String)], _ body: BodySource,
                         _ collect: Bool) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        let reused = fd >= 0
        do {
            return try attempt(method, path, headers, body, collect)
        } catch {
            close()
            var stale = false
            switch error {
            case .io, .connectionClosed: stale = reused && !responseBytesSeen
            default: break
            }
            guard stale else { throw error }
            return try attempt(method, path, headers, body, collect)
        }
    }

    private func connectIfNeeded() throws(SimpleHTTPError) {
        if fd >= 0 { return }
        do {
            fd = try BlockingSocket.connect(host: host, port: port, timeoutSeconds: timeoutSeconds)
        } catch {
            throw .connect(error)
        }
        connectionsOpened += 1
        requestsOnConnection = 0
        buffer.removeAll(keepingCapacity: true)
    }

    private func attempt(_ method: String, _ path: String, _ headers: [(String, String)], _ body: BodySource,
                         _ collect: Bool) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        responseBytesSeen = false
        try connectIfNeeded()
        let reused = requestsOnConnection > 0
        requestsOnConnection += 1
        let started = MonotonicClock.now()
        let names = Set(headers.map { $0.0.lowercased() })
        var head = "\(method) \(path) HTTP/1.1\r\n"
        if !names.contains("host") { head += "host: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\n" }
        if !names.contains("user-agent") { head += "user-agent: sluice-demo\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !names.contains("content-length") && !names.contains("transfer-encoding") {
            switch body {
            case .none: if method == "POST" || method == "PUT" || method == "PATCH" { head += "content-length: 0\r\n" }
            case .bytes(let b): head += "content-length: \(b.count)\r\n"
            case .pattern(let n, let chunked): head += chunked ? "transfer-encoding: chunked\r\n" : "content-length: \(n)\r\n"
            }
        }
        head += "\r\n"
        let sendError = send(head: Array(head.utf8), body: body)
        let response: SimpleHTTPResponse
        do {
            response = try readResponse(isHEAD: method == "HEAD", collect: collect, reused: reused, started: started)
        } catch {
            if let e = sendError { throw .io(SocketError(operation: "send to \(host):\(port)", code: e)) }
            throw error
        }
        let wantsClose = headers.contains { $0.0.lowercased() == "connection" && $0.1.lowercased().contains("close") }
        if wantsClose { close() }
        return response
    }

    /// Sends the head and body; returns the errno of a failed write, or nil.
    private func send(head: [UInt8], body: BodySource) -> Int32? {
        switch body {
        case .none:
            let rc = BlockingSocket.sendAll(fd, head)
            return rc == 0 ? nil : rc
        case .bytes(let b):
            let rc = BlockingSocket.sendAll(fd, head + b)
            return rc == 0 ? nil : rc
        case .pattern(let count, let chunked):
            var rc = BlockingSocket.sendAll(fd, head)
            var left = count
            let block = PatternBytes.block
            while rc == 0 && left > 0 {
                let n = min(left, block.count)
                if chunked { rc = BlockingSocket.sendAll(fd, Array((String(n, radix: 16) + "\r\n").utf8)) }
                if rc == 0 { rc = block.withUnsafeBytes { BlockingSocket.sendAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) } }
                if rc == 0 && chunked { rc = BlockingSocket.sendAll(fd, [13, 10]) }
                left -= n
            }
            if rc == 0 && chunked { rc = BlockingSocket.sendAll(fd, Array("0\r\n\r\n".utf8)) }
            return rc == 0 ? nil : rc
        }
    }

    /// Reads more bytes into `buffer`; throws on end of stream (`what` names the missing part), timeout or error.
    private func fill(_ what: String) throws(SimpleHTTPError) {
        let n = BlockingSocket.receive(fd, scratch, scratchSize)
        if n > 0 {
            responseBytesSeen = true
            buffer.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: n))
            return
        }
        if n == 0 { throw .connectionClosed(what) }
        let code = Int32(-n)
        if code == EAGAIN || code == EWOULDBLOCK { throw .timedOut("after \(timeoutSeconds)s waiting for \(what) from \(host):\(port)") }
        throw .io(SocketError(operation: "recv from \(host):\(port)", code: code))
    }

    /// Sends `method path` with a text body and hands the payload of a streamed (chunked) response to
    /// `onData` as it arrives, until the server ends it, `onData` returns false, or `onIdle` (called after
    /// every `timeoutSeconds` without a byte) returns false. Returns the response status. The connection
    /// is closed afterwards. Used for long-lived streams such as etcd's watch.
    public func stream(_ method: String, _ path: String, text: String, onData: ([UInt8]) -> Bool,
                       onIdle: () -> Bool) throws(SimpleHTTPError) -> Int {
        close()
        defer { close() }
        try connectIfNeeded()
        let body = Array(text.utf8)
        let head = "\(method) \(path) HTTP/1.1\r\nhost: \(host.contains(":") ? "[\(host)]" : host):\(port)\r\nuser-agent: sluice\r\ncontent-type: application/json\r\ncontent-length: \(body.count)\r\n\r\n"
        if let e = send(head: Array(head.utf8), body: .bytes(body)) {
            throw .io(SocketError(operation: "send to \(host):\(port)", code: e))
        }
        let (head2, _) = try readHead(isHEAD: false)
        guard case .chunked = head2.framing else { return Int(head2.status) }
        var decoder = ChunkedDecoder(isResponse: true)
        var ranges: [Range<Int>] = []
        while !decoder.isFinished {
            if buffer.isEmpty {
                do { try fill("the stream") } catch {
                    if case .timedOut = error {
                        if onIdle() { continue }
                        return Int(head2.status)
                    }
                    throw error
                }
            }
            let consumed = try consumeChunks(&decoder, &ranges)
            var payload: [UInt8] = []
            for r in ranges { payload.append(contentsOf: buffer[r]) }
            buffer.removeFirst(consumed)
            if !payload.isEmpty && !onData(payload) { return Int(head2.status) }
        }
        return Int(head2.status)
    }

    /// Feeds `buffer` to `decoder`: the payload ranges of `buffer` go to `ranges`; returns the bytes consumed.
    private func consumeChunks(_ decoder: inout ChunkedDecoder, _ ranges: inout [Range<Int>]) throws(SimpleHTTPError) -> Int {
        ranges.removeAll(keepingCapacity: true)
        let step = buffer.withUnsafeBytes { raw -> Result<Int, HTTP1Error> in
            do throws(HTTP1Error) { return .success(try decoder.consume(raw, payload: &ranges)) }
            catch { return .failure(error) }
        }
        switch step {
        case .success(let consumed): return consumed
        case .failure(let e): throw .malformedResponse(e.message)
        }
    }

    /// Reads a final (non-1xx) response head; returns it and its fields, with the head removed from `buffer`.
    private func readHead(isHEAD: Bool) throws(SimpleHTTPError) -> (ResponseHead, [SimpleHTTPField]) {
        var parser = ResponseHeadParser()
        var head = ResponseHead()
        while true {
            if !buffer.isEmpty {
                switch buffer.withUnsafeBytes({ parser.parse($0, requestWasHEAD: isHEAD, into: &head) }) {
                case .complete:
                    if head.isInformational {
                        buffer.removeFirst(head.headLength)
                        parser.reset()
                        continue
                    }
                case .error(let e):
                    throw .malformedResponse(e.message)
                case .incomplete:
                    try fill("the response head")
                    continue
                }
                break
            }
            try fill("the response head")
        }
        let fields = buffer.withUnsafeBytes { raw in
            head.fields.map {
                SimpleHTTPField(name: String(decoding: $0.name(in: raw), as: UTF8.self).lowercased(),
                                value: String(decoding: $0.value(in: raw), as: UTF8.self))
            }
        }
        buffer.removeFirst(head.headLength)
        return (head, fields)
    }

    private func readResponse(isHEAD: Bool, collect: Bool, reused: Bool, started: UInt64) throws(SimpleHTTPError) -> SimpleHTTPResponse {
        let (head, fields) = try readHead(isHEAD: isHEAD)
        var body: [UInt8] = []
        var length = 0
        var chunked = false
        switch head.framing {
        case .none:
            break
        case .contentLength(let n):
            length = Int(n)
            if collect { body.reserveCapacity(min(length, 64 * 1024 * 1024)) }
            var left = length
            while left > 0 {
                if buffer.isEmpty { try fill("\(left) more body bytes") }
                let take = min(left, buffer.count)
                if collect { body.append(contentsOf: buffer[0..<take]) }
                buffer.removeFirst(take)
                left -= take
            }
        case .chunked:
            chunked = true
            var decoder = ChunkedDecoder(isResponse: true)
            var ranges: [Range<Int>] = []
            while !decoder.isFinished {
                if buffer.isEmpty { try fill("the rest of a chunked body") }
                let consumed = try consumeChunks(&decoder, &ranges)
                for r in ranges {
                    length += r.count
                    if collect { body.append(contentsOf: buffer[r]) }
                }
                buffer.removeFirst(consumed)
            }
        case .untilClose:
            while true {
                if !buffer.isEmpty {
                    length += buffer.count
                    if collect { body.append(contentsOf: buffer) }
                    buffer.removeAll(keepingCapacity: true)
                }
                do { try fill("body") } catch {
                    if case .connectionClosed = error { break }
                    throw error
                }
            }
        }
        let response = SimpleHTTPResponse(status: head.status, headers: fields, body: body, bodyLength: length,
                                          wasChunked: chunked, reusedConnection: reused,
                                          elapsedMicros: (MonotonicClock.now() &- started) / 1000)
        if !head.keepAlive { close() }
        return response
    }
}
