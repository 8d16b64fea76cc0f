import Glibc
import SluiceCore
import SluiceHTTP1

/// Serves exactly one request on one accepted admin socket, then closes it.
///
/// Deliberately simple: the head parsed with SluiceHTTP1's strict `RequestHeadParser`, a
/// Content-Length body of at most 1 MiB, one response with `Connection: close`. Every read and
/// write waits through `AdminSocket`, so the whole connection ends by its deadline.
enum AdminConnection {
    /// Largest request body accepted (413 above it).
    static let maxBodyBytes = 1 << 20

    /// How a connection ended, for the server's counters and logs.
    enum Outcome: Equatable {
        /// A response was written in full.
        case answered
        /// The deadline passed while reading the request or writing the response.
        case timedOut
        /// The peer closed or reset before a request was complete, or stopped reading the response.
        case peerGone
        /// The server stopped first.
        case stopped
    }

    /// Reads one request from `socket`, answers it with `handler`'s response, and closes the socket.
    /// `finished` learns how the connection ended before the socket is closed (so counters are up to
    /// date by the time the client sees the close).
    static func serve(_ socket: AdminSocket, handler: (AdminRequest) -> AdminResponse, finished: (Outcome) -> Void) {
        let response: AdminResponse
        switch readRequest(socket) {
        case .request(let request): response = handler(request)
        case .reject(let r): response = r
        case .expired(let partial):
            finished(.timedOut)
            // Best effort: one non-blocking attempt (the deadline has passed), then close.
            if partial { socket.writeAll(AdminResponse.error(408, "request_timeout", "request not received in time").serialized) }
            close(socket.fd)
            return
        case .closed:
            finished(.peerGone)
            close(socket.fd)
            return
        case .stopped:
            finished(.stopped)
            close(socket.fd)
            return
        }
        let written = socket.writeAll(response.serialized)
        let expired = !written && MonotonicClock.now() >= socket.deadline
        finished(written ? .answered : (expired ? .timedOut : .peerGone))
        socket.lingeringClose(maxDrainBytes: 4 * maxBodyBytes)
    }

    /// What reading produced.
    enum ReadOutcome {
        /// A complete request.
        case request(AdminRequest)
        /// Answer with this and close (malformed, too large).
        case reject(AdminResponse)
        /// The deadline passed; `partial` when some bytes of a request had arrived.
        case expired(partial: Bool)
        /// The peer went away; nothing to answer.
        case closed
        /// The server is stopping.
        case stopped
    }

    /// Reads and parses the head, then the body.
    static func readRequest(_ socket: AdminSocket) -> ReadOutcome {
        var parser = RequestHeadParser()
        var head = RequestHead()
        var buf: [UInt8] = []
        buf.reserveCapacity(4096)
        headLoop: while true {
            switch socket.readMore(into: &buf) {
            case .data: break
            case .eof: return .closed
            case .expired: return .expired(partial: !buf.isEmpty)
            case .stopped: return .stopped
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
                socket.writeAll(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            while body.count < want {
                switch socket.readMore(into: &body) {
                case .data: continue
                case .eof: return .closed
                case .expired: return .expired(partial: true)
                case .stopped: return .stopped
                }
            }
            if body.count > want { body.removeLast(body.count - want) }
        }
        return .request(AdminRequest(method: method, segments: split.segments, path: split.path,
                                     query: split.query, headers: headers, body: body))
    }
}
