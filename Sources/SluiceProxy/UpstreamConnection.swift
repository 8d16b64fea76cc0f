import Glibc
import SluiceCore
import SluiceStats
import SluiceTLS

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
/// With `tls:` the connection stays `.handshaking` after the TCP connect until the TLS
/// handshake is done (both within `timeouts.connect`); owners see it become active then.
final class UpstreamConnection: EventHandler {
    enum State { case connecting, handshaking, active, idle, closed }

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
    /// TLS to the backend (`tls:`), nil for cleartext; set before the connect.
    var transport: TLSTransport?
    /// What the TLS peer must prove (for the failure log); set with `transport`.
    var tlsPeer: TLSPeer?
    /// The worker that owns this connection, for TLS failure reports (set with `transport`).
    /// unowned(unsafe): a worker outlives every connection on its loop.
    unowned(unsafe) var tlsWorker: Worker?

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
                if transport != nil {
                    state = .handshaking
                    advanceHandshake()
                    return
                }
                state = .active
                deadline = 0
                owner?.upstreamConnected()
                if events & EventLoop.readable != 0 { readAvailable() }
            }
        case .handshaking:
            advanceHandshake()
        case .active:
            if events & EventLoop.writable != 0 { flush() }
            if state == .active, events & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
                readAvailable()
            }
        case .idle:
            // A pooled connection the backend closed (or sent unsolicited bytes on): drop it.
            if events & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
                // TLS records that carry no data (a late TLS 1.3 session ticket) keep it pooled.
                if transport != nil, events & (EventLoop.hangup | EventLoop.error | EventLoop.readHangup) == 0,
                   case .wouldBlock = TransportIO.read(fd, transport, into: &input, max: 16 * 1024), input.isEmpty {
                    return
                }
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
        case .handshaking:
            failHandshake(TLSTransport.handshakeTimeoutReason)
        case .active: owner?.upstreamTimedOut()
        case .idle:
            pool?.remove(self)
            closeNow(loop: loopOfOwnerless)
        case .closed: break
        }
    }

    /// Sends the ClientHello or carries the handshake on. Once done (and ALPN is acceptable)
    /// the connection is active and the owner's request goes out; a failure is a connect failure.
    private func advanceHandshake() {
        guard let t = transport else { return }
        switch t.clientHandshake(fd: fd, alpn: "http/1.1", alpnRequired: false) {
        case .pending:
            return
        case .failed(let reason):
            failHandshake(reason)
        case .done:
            state = .active
            deadline = 0
            owner?.upstreamConnected()
            // Records that came with the end of the handshake are already buffered in TLS.
            if state == .active { readAvailable() }
        }
    }

    /// The handshake failed (or the backend refused the session right after it): logged and
    /// counted, then answered like a refused connect.
    private func failHandshake(_ reason: String) {
        if let worker = tlsWorker, let peer = tlsPeer {
            worker.reportUpstreamTLSFailure(address: home.address, peer: peer, reason: reason)
        }
        owner?.upstreamFailed(.connect)
    }

    /// A read or write failed: a reset, unless a TLS 1.3 backend just refused our client
    /// certificate (its alert comes after our side of the handshake ended): a connect failure.
    private func failIO() {
        if let refusal = transport?.refusalAfterHandshake(fd: fd) {
            failHandshake(refusal)
        } else {
            owner?.upstreamFailed(.reset)
        }
    }

    /// Reads until the socket is drained or the owner pauses us, handing bytes to the owner.
    func readAvailable() {
        while !readPaused, !peerClosed, state == .active {
            input.reserve(16 * 1024)
            let room = input.writableCount
            switch TransportIO.read(fd, transport, into: &input, max: room) {
            case .bytes(0):
                peerClosed = true
                owner?.upstreamEOF()
                return
            case .bytes(let n):
                owner?.upstreamReadable()
                // A short plain read drained the socket (edge-triggered); TLS may hold more.
                if n < room && transport == nil && !peerHungUp { return }
            case .wouldBlock:
                return
            case .failed:
                failIO()
                return
            }
        }
    }

    /// Writes pending output; tells the owner when it drained (to resume reading the client).
    func flush() {
        guard state == .active else { return }
        if !TransportIO.write(fd, transport, from: &output) {
            failIO()
            return
        }
        if output.isEmpty && transport?.hasPendingOutput != true { owner?.upstreamDrained() }
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
