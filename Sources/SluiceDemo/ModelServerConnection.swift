import Glibc
import SluiceHTTP1
import SluiceSupport

/// One accepted connection of a `ModelServer`, served on its own thread: reads requests (keep-alive,
/// pipelining, Content-Length or chunked bodies, `Expect: 100-continue`), answers them through
/// `ModelEndpoints`, and closes on `Connection: close`, a protocol error, or the peer closing.
final class ModelServerConnection {
    private let server: ModelServer
    private let fd: Int32
    private var buffer: [UInt8] = []
    private let scratchSize = 64 * 1024
    private let scratch: UnsafeMutableRawPointer

    init(server: ModelServer, fd: Int32) {
        self.server = server
        self.fd = fd
        scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
        buffer.reserveCapacity(scratchSize)
    }

    deinit { scratch.deallocate() }

    /// Serves requests until the connection ends, then unregisters and closes the socket.
    func serve() {
        defer { server.connectionClosed(fd) }
        var parser = RequestHeadParser()
        var head = RequestHead()
        while true {
            parser.reset()
            guard let request = readRequest(&parser, &head) else { return }
            let response = ModelEndpoints.answer(request, behavior: server.behavior)
            server.requestServed()
            let keepAlive = head.keepAlive && request.method != "CONNECT"
            guard write(response, isHEAD: request.isHEAD, keepAlive: keepAlive) else { return }
            if !keepAlive { return }
        }
    }

    /// Reads more bytes into `buffer`; false at end of stream or on error.
    private func fill() -> Bool {
        let n = BlockingSocket.receive(fd, scratch, scratchSize)
        if n <= 0 { return false }
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: n))
        return true
    }

    /// Reads one request head and body; nil when the connection should end (errors are answered first).
    private func readRequest(_ parser: inout RequestHeadParser, _ head: inout RequestHead) -> ModelRequest? {
        while true {
            if !buffer.isEmpty {
                let result = buffer.withUnsafeBytes { parser.parse($0, into: &head) }
                switch result {
                case .complete:
                    return readBody(head)
                case .error(let e):
                    _ = write(.error(e.status, e.code, e.message), isHEAD: false, keepAlive: false)
                    return nil
                case .incomplete:
                    break
                }
            }
            guard fill() else { return nil }
        }
    }

    /// Decodes the head's strings, answers `100 Continue` if asked, and reads the body.
    private func readBody(_ head: RequestHead) -> ModelRequest? {
        var request = buffer.withUnsafeBytes { raw -> ModelRequest in
            let target = String(decoding: head.target(in: raw), as: UTF8.self)
            let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            var headers: [(name: String, value: String)] = []
            headers.reserveCapacity(head.fields.count)
            for f in head.fields {
                headers.append((String(decoding: f.name(in: raw), as: UTF8.self).lowercased(),
                                String(decoding: f.value(in: raw), as: UTF8.self)))
            }
            return ModelRequest(method: String(decoding: head.method(in: raw), as: UTF8.self),
                                path: String(parts.first ?? ""), query: parts.count > 1 ? String(parts[1]) : "",
                                headers: headers, body: [], bodyLength: 0, isHEAD: head.isHEAD)
        }
        buffer.removeFirst(head.headLength)
        if head.expectContinue && head.framing != .none {
            guard BlockingSocket.sendAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) == 0 else { return nil }
        }
        let keep = ModelRequest.keepsBody(path: request.path)
        switch head.framing {
        case .none, .untilClose:
            break
        case .contentLength(let length):
            guard readFixedBody(UInt64(length), keep: keep, into: &request) else { return nil }
        case .chunked:
            guard readChunkedBody(keep: keep, into: &request) else { return nil }
        }
        return request
    }

    /// Reads exactly `length` body bytes, never past them (a pipelined request stays in `buffer`).
    private func readFixedBody(_ length: UInt64, keep: Bool, into request: inout ModelRequest) -> Bool {
        var remaining = length
        let fromBuffer = Int(min(UInt64(buffer.count), remaining))
        if fromBuffer > 0 {
            if keep { request.body.append(contentsOf: buffer[0..<fromBuffer]) }
            buffer.removeFirst(fromBuffer)
            remaining -= UInt64(fromBuffer)
        }
        if keep && remaining < 256 * 1024 * 1024 { request.body.reserveCapacity(Int(length)) }
        while remaining > 0 {
            let n = BlockingSocket.receive(fd, scratch, Int(min(UInt64(scratchSize), remaining)))
            if n <= 0 { return false }
            if keep { request.body.append(contentsOf: UnsafeRawBufferPointer(start: scratch, count: n)) }
            remaining -= UInt64(n)
        }
        request.bodyLength = Int(length)
        return true
    }

    /// Reads a chunked body through `ChunkedDecoder`, leaving any pipelined bytes in `buffer`.
    private func readChunkedBody(keep: Bool, into request: inout ModelRequest) -> Bool {
        var decoder = ChunkedDecoder()
        var ranges: [Range<Int>] = []
        while true {
            if !buffer.isEmpty {
                ranges.removeAll(keepingCapacity: true)
                let step = buffer.withUnsafeBytes { raw -> Result<Int, HTTP1Error> in
                    do throws(HTTP1Error) { return .success(try decoder.consume(raw, payload: &ranges)) }
                    catch { return .failure(error) }
                }
                let consumed: Int
                switch step {
                case .success(let n): consumed = n
                case .failure(let error):
                    _ = write(.error(error.status, error.code, error.message), isHEAD: false, keepAlive: false)
                    return false
                }
                for r in ranges {
                    request.bodyLength += r.count
                    if keep { request.body.append(contentsOf: buffer[r]) }
                }
                buffer.removeFirst(consumed)
                if decoder.isFinished { return true }
            }
            guard fill() else { return false }
        }
    }

    /// Writes `response`; false if the peer is gone.
    private func write(_ response: ModelResponse, isHEAD: Bool, keepAlive: Bool) -> Bool {
        let version = server.behavior.modelVersion
        var head = response.earlyHints.map { "HTTP/1.1 103 Early Hints\r\nlink: \($0)\r\n\r\n" } ?? ""
        head += "HTTP/1.1 \(response.status) \(HTTPReason.phrase(response.status))\r\n"
        for (name, value) in response.headers { head += "\(name): \(value)\r\n" }
        head += "x-backend: \(version)\r\n"
        var chunked = false
        switch response.body {
        case .bytes(let b):
            if !response.statusForbidsBody { head += "content-length: \(b.count)\r\n" }
        case .generated(let count, let isChunked):
            if isChunked { head += "transfer-encoding: chunked\r\n"; chunked = true }
            else { head += "content-length: \(count)\r\n" }
        }
        if !keepAlive { head += "connection: close\r\n" }
        head += "\r\n"
        let sendBody = !isHEAD && !response.statusForbidsBody
        switch response.body {
        case .bytes(let b):
            var all = Array(head.utf8)
            if sendBody { all.append(contentsOf: b) }
            return BlockingSocket.sendAll(fd, all) == 0
        case .generated(let count, _):
            guard BlockingSocket.sendAll(fd, Array(head.utf8)) == 0 else { return false }
            return sendBody ? writeGenerated(count, chunked: chunked) : true
        }
    }

    /// Streams `count` pattern bytes in 64 KiB writes, optionally as chunks.
    private func writeGenerated(_ count: Int, chunked: Bool) -> Bool {
        let piece = PatternBytes.block
        var left = count
        while left > 0 {
            let n = min(left, piece.count)
            if chunked {
                guard BlockingSocket.sendAll(fd, Array((String(n, radix: 16) + "\r\n").utf8)) == 0 else { return false }
            }
            let rc = piece.withUnsafeBytes { BlockingSocket.sendAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            guard rc == 0 else { return false }
            if chunked {
                guard BlockingSocket.sendAll(fd, [13, 10]) == 0 else { return false }
            }
            left -= n
        }
        if chunked {
            return BlockingSocket.sendAll(fd, Array("0\r\n\r\n".utf8)) == 0
        }
        return true
    }
}

/// Thread entry of one `ModelServer` connection; the argument is the retained `ModelServerConnection`.
func modelServerConnectionMain(_ arg: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let connection = Unmanaged<ModelServerConnection>.fromOpaque(arg!).takeRetainedValue()
    connection.serve()
    return nil
}
