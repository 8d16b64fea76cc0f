import Glibc
import SluiceCore
import SluiceHTTP1

/// Serves exactly one request on one accepted, blocking admin socket, then closes it.
///
/// Deliberately simple: blocking reads with a 5 s `SO_RCVTIMEO`, the head parsed with SluiceHTTP1's strict
/// `RequestHeadParser`, a Content-Length body of at most 1 MiB, one response with `Connection: close`.
enum AdminConnection {
    /// Largest request body accepted (413 above it).
    static let maxBodyBytes = 1 << 20
    /// Per-read (and per-write) timeout, seconds.
    static let ioTimeoutSeconds = 5
    /// Whole-request deadline, so a client trickling bytes cannot hold the (single) admin thread.
    static let requestDeadlineNanos: UInt64 = 10_000_000_000

    /// Reads one request from `fd`, answers it with `handler`'s response, and closes `fd`.
    static func serve(fd: Int32, handler: (AdminRequest) -> AdminResponse) {
        setTimeout(fd, SO_RCVTIMEO, seconds: ioTimeoutSeconds, micros: 0)
        setTimeout(fd, SO_SNDTIMEO, seconds: ioTimeoutSeconds, micros: 0)
        let response: AdminResponse
        switch readRequest(fd) {
        case .request(let request): response = handler(request)
        case .reject(let r): response = r
        case .closed: close(fd); return
        }
        writeAll(fd, response.serialized)
        lingeringClose(fd)
    }

    /// What reading produced.
    enum ReadOutcome {
        /// A complete request.
        case request(AdminRequest)
        /// Answer with this and close (malformed, too large, timed out).
        case reject(AdminResponse)
        /// The peer went away; nothing to answer.
        case closed
    }

    /// Reads and parses the head, then the body.
    static func readRequest(_ fd: Int32) -> ReadOutcome {
        var parser = RequestHeadParser()
        var head = RequestHead()
        var buf: [UInt8] = []
        buf.reserveCapacity(4096)
        let deadline = MonotonicClock.now() &+ requestDeadlineNanos
        headLoop: while true {
            switch readMore(fd, into: &buf, deadline: deadline) {
            case .data: break
            case .eof: return .closed
            case .timeout: return buf.isEmpty ? .closed : .reject(.error(408, "request_timeout", "request head not received in time"))
            }
            let result = buf.withUnsafeBytes { parser.parse($0, into: &head) }
            switch result {
            case .incomplete: continue headLoop
            case .error(let e): return .reject(.error(e))
            case .complete: break headLoop
            }
        }
        let (method, target, headers) = buf.withUnsafeBytes { raw in
            (String(decoding: head.method(in: raw), as: UTF8.self),
             String(decoding: head.target(in: raw), as: UTF8.self),
             head.fields.map { f in
                 (name: String(decoding: f.name(in: raw), as: UTF8.self).lowercased(),
                  value: String(decoding: f.value(in: raw), as: UTF8.self))
             })
        }
        guard let split = AdminRequest.splitTarget(target) else {
            return .reject(.error(400, "bad_request", "malformed request-target"))
        }
        var body: [UInt8] = []
        switch head.framing {
        case .none, .untilClose:
            break
        case .chunked:
            return .reject(.error(411, "length_required", "the admin API needs a Content-Length body"))
        case .contentLength(let length):
            guard length <= UInt64(maxBodyBytes) else {
                return .reject(.error(413, "body_too_large", "request body exceeds \(maxBodyBytes) bytes"))
            }
            let want = Int(length)
            body = Array(buf[head.headLength...].prefix(want))
            if body.count < want && head.expectContinue {
                writeAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            while body.count < want {
                switch readMore(fd, into: &body, deadline: deadline) {
                case .data: continue
                case .eof: return .closed
                case .timeout: return .reject(.error(408, "request_timeout", "request body not received in time"))
                }
            }
            if body.count > want { body.removeLast(body.count - want) }
        }
        return .request(AdminRequest(method: method, segments: split.segments, path: split.path,
                                     query: split.query, headers: headers, body: body))
    }

    /// Result of one blocking read.
    enum ReadResult { case data, eof, timeout }

    /// Appends what one `recv` returns (up to 16 KiB) to `buf`; `.timeout` once `deadline` has passed.
    static func readMore(_ fd: Int32, into buf: inout [UInt8], deadline: UInt64) -> ReadResult {
        if MonotonicClock.now() >= deadline { return .timeout }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buf.append(contentsOf: chunk[0..<n])
                return .data
            }
            if n == 0 { return .eof }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .timeout }
            return .eof
        }
    }

    /// Writes every byte (blocking, `MSG_NOSIGNAL`); gives up silently on error or timeout.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                return
            }
        }
    }

    /// Half-closes, then drains what the client still sends (briefly, bounded) before closing, so an
    /// unread request body does not turn the close into a reset that destroys the response in flight.
    static func lingeringClose(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        setTimeout(fd, SO_RCVTIMEO, seconds: 0, micros: 200_000)
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        var drained = 0
        while drained < 4 * maxBodyBytes {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            drained += n
        }
        close(fd)
    }

    /// Sets `SO_RCVTIMEO` or `SO_SNDTIMEO`.
    static func setTimeout(_ fd: Int32, _ option: Int32, seconds: Int, micros: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: micros)
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
