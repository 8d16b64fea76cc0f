import Glibc
import SluiceCore
import SluiceStats

/// Why an upstream exchange failed; decides the status the client gets.
enum UpstreamFailure {
    /// Refused, unreachable, or the connect timed out: 503.
    case connect
    /// No response head within the request timeout: 504.
    case timeout
    /// The backend sent something that is not HTTP/1.1: 502.
    case protocolError
    /// The backend closed or reset the connection before the response was complete.
    case reset
}

/// One connection to a backend endpoint. Owned by its worker; while an exchange runs,
/// `owner` is the downstream connection it serves, otherwise it sits in its pool.
final class UpstreamConnection: EventHandler {
    enum State { case connecting, active, idle, closed }

    var state: State = .connecting
    /// The downstream connection this exchange belongs to (nil while pooled).
    unowned(unsafe) var owner: ExchangeHandler?
    /// The pool it returns to; set while it is idle there.
    var pool: UpstreamPool?
    let endpoint: Int
    /// The pool of the worker this connection returns to after a clean exchange.
    let home: UpstreamPool
    /// How long it may sit idle in the pool (the backend's `timeouts.idleNanos`).
    let idleTimeout: UInt64
    var input = ByteQueue(capacity: 16 * 1024)
    var output = ByteQueue(capacity: 16 * 1024)
    /// Whether this connection already served an exchange (a failure before any response byte can be retried).
    var reused = false
    /// Set when the downstream side cannot take more: stop reading until it drains.
    var readPaused = false
    /// The peer sent EOF.
    var peerClosed = false
    /// EPOLLRDHUP/HUP seen: read to EOF instead of trusting short reads (the FIN can sit behind
    /// the last bytes, e.g. of a close-delimited response, and edge-triggered epoll reports it once).
    var peerHungUp = false

    init(endpoint: Int, home: UpstreamPool, idleTimeout: UInt64) {
        self.endpoint = endpoint
        self.home = home
        self.idleTimeout = idleTimeout
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    override func handleEvent(_ events: UInt32) {
        if events & (EventLoop.readHangup | EventLoop.hangup | EventLoop.error) != 0 { peerHungUp = true }
        switch state {
        case .connecting:
            if events & (EventLoop.writable | EventLoop.error | EventLoop.hangup) != 0 {
                let err = SocketIO.pendingError(fd)
                if err != 0 || events & EventLoop.error != 0 {
                    owner?.upstreamFailed(.connect)
                    return
                }
                state = .active
                deadline = 0
                owner?.upstreamConnected()
                if events & EventLoop.readable != 0 { readAvailable() }
            }
        case .active:
            if events & EventLoop.writable != 0 { flush() }
            if state == .active, events & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
                readAvailable()
            }
        case .idle:
            // A pooled connection the backend closed (or sent unsolicited bytes on): drop it.
            if events & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
                pool?.remove(self)
                closeNow(loop: loopOfOwnerless)
            }
        case .closed:
            break
        }
    }

    /// Set by the worker when registering: needed to close a pooled connection that has no owner.
    unowned(unsafe) var loopOfOwnerless: EventLoop!

    override func handleTimeout(now: UInt64) {
        switch state {
        case .connecting: owner?.upstreamFailed(.connect)
        case .active: owner?.upstreamTimedOut()
        case .idle:
            pool?.remove(self)
            closeNow(loop: loopOfOwnerless)
        case .closed: break
        }
    }

    /// Reads until the socket is drained or the owner pauses us, handing bytes to the owner.
    func readAvailable() {
        while !readPaused, !peerClosed, state == .active {
            input.reserve(16 * 1024)
            let room = input.writableCount
            switch SocketIO.read(fd, input.writePointer, room) {
            case .bytes(0):
                peerClosed = true
                owner?.upstreamEOF()
                return
            case .bytes(let n):
                input.commit(n)
                owner?.upstreamReadable()
                if n < room && !peerHungUp { return }
            case .wouldBlock:
                return
            case .failed:
                owner?.upstreamFailed(.reset)
                return
            }
        }
    }

    /// Writes pending output; tells the owner when it drained (to resume reading the client).
    func flush() {
        guard state == .active else { return }
        if !output.flush(to: fd) {
            owner?.upstreamFailed(.reset)
            return
        }
        if output.isEmpty { owner?.upstreamDrained() }
    }

    /// Deferred write: several pieces queued during one batch of events (an HTTP/2 stream's
    /// head, body and end) leave in one syscall.
    override func handleDeferred() { flush() }

    /// Closes the socket and forgets any owner.
    func closeNow(loop: EventLoop) {
        guard state != .closed else { return }
        state = .closed
        owner = nil
        pool = nil
        loop.close(self)
    }
}

extension UpstreamFailure {
    /// What the client is told and which counter records it (one table for HTTP/1 and HTTP/2 paths).
    func answer(backend name: String) -> (status: Int, code: String, message: String, counter: GlobalCounter) {
        switch self {
        case .connect: return (503, "upstream_unavailable", "could not connect to backend \(name)", .upstreamConnectFailures)
        case .timeout: return (504, "upstream_timeout", "backend \(name) did not answer in time", .upstreamTimeouts)
        case .protocolError: return (502, "bad_gateway", "backend \(name) sent an invalid response", .upstreamProtocolErrors)
        case .reset: return (502, "upstream_reset", "backend \(name) closed or reset the connection before responding", .upstreamResets)
        }
    }
}
