import SluiceCore
import SluiceHTTP2
import SluiceStats
import SluiceTLS

/// One multiplexed HTTP/2 connection to a backend endpoint with `protocol: h2`: prior
/// knowledge (h2c), or TLS with ALPN `h2` when the backend has `tls:`. Owned by one worker.
/// Streams belong to `ExchangeHandler`s (HTTP/2 downstream streams); the connection routes
/// session events to them by stream id. Streams opened while it connects wait in the session.
final class H2UpstreamConnection: EventHandler {
    enum State { case connecting, handshaking, open, closed }

    /// unowned(unsafe): a worker outlives every connection and exchange on its loop (it never
    /// deinitialises while its thread runs), so the checked retain of `unowned` buys nothing here.
    unowned(unsafe) let worker: Worker
    /// Strong: a reload may drop the pool from the worker's table while this connection still carries
    /// streams; the pool then lives until its last connection closes (``closeNow()`` removes the
    /// connection from the pool, which ends the cycle).
    let pool: H2UpstreamPool
    let events = H2ClientEvents()
    var session: H2Session!
    var state = State.connecting
    var input = ByteQueue(capacity: 64 * 1024)
    var output = ByteQueue(capacity: 64 * 1024)
    /// Stream owners by id. Owners are unowned: each removes itself when its stream ends.
    var owners: [Int32: Unmanaged<ExchangeHandler>] = [:]
    /// No new streams: the backend sent GOAWAY, or the stream ids are nearly used up.
    var goingAway = false
    /// EPOLLRDHUP/HUP seen: read to EOF instead of trusting short reads.
    var peerHungUp = false
    let connectTimeout: UInt64
    /// The backend's `timeouts.idle`: a connection without streams this long is closed.
    let idleTimeout: UInt64
    /// When the TCP connect and TLS handshake must be done (0 once open). `deadline` is this
    /// while connecting, then the idle deadline while the connection carries no stream (the
    /// streams' own timeouts are kept by their downstream exchanges, see ``ExchangeTimer``).
    private var connectDeadline: UInt64 = 0
    /// Past this stream id no new stream is opened: the connection is retired (it closes after
    /// its last stream) well before nghttp2 runs out of client stream ids (2^31 - 1).
    static let lastStreamID: Int32 = Int32.max - 2 * 1024
    /// TLS to the backend (nil: h2c).
    let transport: TLSTransport?
    /// The endpoint's id in config version `configVersion` (for passive ejection on connect failures).
    let endpoint: Int
    let configVersion: Int

    init(worker: Worker, pool: H2UpstreamPool, connectTimeout: UInt64, idleTimeout: UInt64, transport: TLSTransport?) {
        self.worker = worker
        self.pool = pool
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.transport = transport
        endpoint = pool.endpoint
        configVersion = pool.configVersion
        super.init()
        events.connection = self
        session = H2Session.client(handler: events, limits: H2Limits(maxConcurrentStreams: 100, connectionWindow: 4 << 20),
                                   allocator: worker.h2Allocator)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// Connects; false when the connect failed at once.
    func connect(_ address: SocketAddress) -> Bool {
        guard let (fd, inProgress) = Sockets.connect(address) else { return false }
        worker.loop.register(self, fd: fd, interest: EventLoop.readable | EventLoop.writable | EventLoop.readHangup | EventLoop.edgeTriggered)
        worker.increment(.upstreamConnectionsOpened)
        if inProgress || transport != nil {
            // With TLS the first writable event starts the handshake; both fit in the connect timeout.
            connectDeadline = worker.loop.now + connectTimeout
            deadline = connectDeadline
        } else {
            state = .open
        }
        return true
    }

    /// Whether another stream fits on this connection: counted on the session's open streams,
    /// which include streams already released by their owners but not yet closed by nghttp2
    /// (a reset still to be sent), so the backend's SETTINGS_MAX_CONCURRENT_STREAMS is never exceeded.
    var hasCapacity: Bool {
        state != .closed && !goingAway && session.openStreams < max(1, session.remoteMaxConcurrentStreams)
    }

    /// Opens a stream carrying `headers`; returns its id, or nil when the session refused.
    func openStream(headers: H2HeaderBlock, endStream: Bool, owner: ExchangeHandler) -> Int32? {
        let id = session.submitRequest(headers: headers, endStream: endStream)
        guard id > 0 else { return nil }
        owners[id] = Unmanaged.passUnretained(owner)
        if id >= H2UpstreamConnection.lastStreamID { goingAway = true }
        if connectDeadline == 0 { deadline = 0 }
        scheduleWrite()
        return id
    }

    /// The owner of `id` no longer listens (its downstream stream ended). The last stream out
    /// starts the idle timeout (or closes a retired connection).
    func release(stream id: Int32) {
        guard owners.removeValue(forKey: id) != nil, owners.isEmpty else { return }
        if goingAway {
            // Closed by `handleDeferred` after this batch, never from inside a session callback.
            scheduleWrite()
        } else if connectDeadline == 0 {
            deadline = worker.loop.now + idleTimeout
        }
    }

    /// The owner of stream `id` is done with it: the response bytes it held back from the
    /// window (`unconsumed`) are credited to the connection first (nghttp2 credits the connection
    /// even once the stream is closed), the stream is reset when `reset` (it is not finished),
    /// then released. Every way a stream ends goes through here.
    func finishStream(_ id: Int32, unconsumed: Int, reset: Bool) {
        if unconsumed > 0 { session.consume(stream: id, unconsumed) }
        if reset { session.resetStream(id, errorCode: H2ErrorCode.cancel) }
        release(stream: id)
        if state != .closed && (unconsumed > 0 || reset) { scheduleWrite() }
    }

    @inline(__always) func scheduleWrite() { worker.loop.deferWork(self) }

    override func handleEvent(_ ev: UInt32) {
        if ev & (EventLoop.readHangup | EventLoop.hangup | EventLoop.error) != 0 { peerHungUp = true }
        if state == .connecting {
            guard ev & (EventLoop.writable | EventLoop.error | EventLoop.hangup) != 0 else { return }
            if SocketIO.pendingError(fd) != 0 || ev & EventLoop.error != 0 {
                fail(.connect)
                return
            }
            if transport != nil {
                state = .handshaking
            } else {
                state = .open
                connectDeadline = 0
                deadline = owners.isEmpty ? worker.loop.now + idleTimeout : 0
            }
        }
        if state == .handshaking {
            advanceHandshake()
            return
        }
        if ev & EventLoop.writable != 0 { handleDeferred() }
        if state == .open, ev & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
            readAvailable()
        }
    }

    /// Sends the ClientHello or carries the handshake on. The backend must select ALPN `h2`;
    /// then the connection opens and the streams queued meanwhile go out.
    private func advanceHandshake() {
        guard let t = transport else { return }
        switch t.clientHandshake(fd: fd, alpn: "h2", alpnRequired: true) {
        case .pending:
            return
        case .failed(let reason):
            failHandshake(reason)
        case .done:
            state = .open
            connectDeadline = 0
            deadline = owners.isEmpty ? worker.loop.now + idleTimeout : 0
            handleDeferred()
            readAvailable()
        }
    }

    /// The handshake failed (or the backend refused the session right after it): logged and
    /// counted, then every stream fails like a refused connect.
    private func failHandshake(_ reason: String) {
        if let peer = pool.tls?.peer {
            worker.reportUpstreamTLSFailure(address: pool.address, peer: peer, reason: reason)
        }
        fail(.connect)
    }

    /// A read or write failed, or the backend closed: a reset, unless a TLS 1.3 backend just
    /// refused our client certificate (its alert comes after our side of the handshake ended).
    private func failIO() {
        if let refusal = transport?.refusalAfterHandshake(fd: fd) { failHandshake(refusal) } else { fail(.reset) }
    }

    private func readAvailable() {
        while state == .open {
            input.reserve(16 * 1024)
            let room = input.writableCount
            switch TransportIO.read(fd, transport, into: &input, max: room) {
            case .bytes(0), .failed:
                failIO()
                return
            case .bytes(let n):
                let ok = session.receive(input.readable)
                input.clear()
                if !ok { fail(.protocolError); return }
                handleDeferred()
                // A short plain read drained the socket (edge-triggered); TLS may hold more.
                if n < room && transport == nil && !peerHungUp { return }
            case .wouldBlock:
                return
            }
        }
    }

    override func handleDeferred() {
        guard state == .open else { return }
        session.flush(into: &output, limit: 1 << 20)
        if !TransportIO.write(fd, transport, from: &output) { failIO(); return }
        if owners.isEmpty && (goingAway || !session.wantsRead) { closeNow() }
    }

    override func handleTimeout(now: UInt64) {
        if connectDeadline != 0 && now >= connectDeadline {
            if state == .handshaking {
                failHandshake(TLSTransport.handshakeTimeoutReason)
            } else {
                fail(.connect)
            }
            return
        }
        if connectDeadline != 0 {
            deadline = connectDeadline
            return
        }
        // Idle for `timeouts.idle` without a stream: say goodbye and close.
        guard owners.isEmpty, state == .open else { return }
        session.goAway()
        session.flush(into: &output, limit: 1 << 20)
        _ = TransportIO.write(fd, transport, from: &output)
        closeNow()
    }

    /// Every stream fails with `failure`; the connection closes. A failed connect also counts
    /// towards the endpoint's passive ejection (once per connection, not per stream).
    func fail(_ failure: UpstreamFailure) {
        guard state != .closed else { return }
        if failure == .connect { worker.reportConnectFailure(endpoint: endpoint, configVersion: configVersion) }
        let current = owners
        owners.removeAll()
        closeNow()
        for (_, owner) in current { owner.takeUnretainedValue().upstreamFailed(failure) }
    }

    func closeNow() {
        guard state != .closed else { return }
        state = .closed
        pool.remove(self)
        worker.loop.close(self)
    }

    @inline(__always) func owner(_ id: Int32) -> ExchangeHandler? { owners[id]?.takeUnretainedValue() }
}

/// Routes client-session events to stream owners.
final class H2ClientEvents: H2SessionHandler {
    unowned(unsafe) var connection: H2UpstreamConnection!
    /// Streams whose final response head has ended: a later header block is their trailers.
    private var trailers: Set<Int32> = []
    /// Streams whose header block being received is an informational (1xx) head.
    private var interim: Set<Int32> = []

    override func streamHeadersBegin(stream: Int32) {}

    override func streamHeader(stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let isTrailers = trailers.contains(stream)
        if !isTrailers, name.count == 7, value.first == UInt8(ascii: "1"), Bytes.equal(name, ":status") { interim.insert(stream) }
        connection.owner(stream)?.h2ResponseHeader(name: name, value: value, isTrailers: isTrailers)
    }

    /// nghttp2 calls every header block after a stream's first response block "headers", so it
    /// cannot tell the final head that follows a 1xx (103 Early Hints, 100 Continue) from
    /// trailers; this does: only the end of a final (non-1xx) head makes the next block trailers.
    override func streamHeadersEnd(stream: Int32, endStream: Bool, isTrailers _: Bool) {
        let isTrailers = trailers.contains(stream)
        if !isTrailers && interim.remove(stream) == nil { trailers.insert(stream) }
        connection.owner(stream)?.h2ResponseHeadersEnd(endStream: endStream, isTrailers: isTrailers)
    }

    override func streamData(stream: Int32, bytes: UnsafeRawBufferPointer) {
        if let o = connection.owner(stream) { o.h2ResponseData(bytes) } else { connection.session.consume(stream: stream, bytes.count) }
    }

    override func streamEnd(stream: Int32) { connection.owner(stream)?.h2ResponseEnd() }

    override func streamClosed(stream: Int32, errorCode: UInt32) {
        trailers.remove(stream)
        interim.remove(stream)
        let o = connection.owner(stream)
        connection.release(stream: stream)
        o?.h2StreamClosed(errorCode: errorCode)
    }

    override func streamWantsData(stream: Int32) { connection.owner(stream)?.h2UpstreamWantsData() }

    override func goAwayReceived(lastStream: Int32, errorCode: UInt32) { connection.goingAway = true }
}

/// The HTTP/2 connections of one worker to one endpoint (a few, multiplexed).
final class H2UpstreamPool {
    let address: SocketAddress
    private(set) var connections: [H2UpstreamConnection] = []
    static let maxConnections = 8
    /// The endpoint's id in the worker's current snapshot, that snapshot's config version,
    /// and its TLS (nil: h2c); refreshed by the worker whenever it takes a new snapshot.
    private(set) var endpoint = -1
    private(set) var configVersion = 0
    private(set) var tls: UpstreamTLS?

    init(address: SocketAddress) { self.address = address }

    /// Takes the endpoint's place in a new snapshot (same address and TLS settings: the pool's key).
    func adopt(endpoint: Int, configVersion: Int, tls: UpstreamTLS?) {
        self.endpoint = endpoint
        self.configVersion = configVersion
        self.tls = tls
    }

    /// A connection with room for one more stream, opening one if needed (nil: connect failed at once or the cap is reached).
    func acquire(worker: Worker, connectTimeout: UInt64, idleTimeout: UInt64) -> H2UpstreamConnection? {
        for c in connections where c.hasCapacity { return c }
        guard connections.count < H2UpstreamPool.maxConnections else { return nil }
        var transport: TLSTransport?
        if let tls {
            // The builder made an h2 context for every TLS endpoint of an h2 backend.
            guard let context = tls.h2 else { return nil }
            transport = TLSTransport(context: context, serverName: tls.peer.serverName, buffers: worker.buffers)
        }
        let c = H2UpstreamConnection(worker: worker, pool: self, connectTimeout: connectTimeout, idleTimeout: idleTimeout, transport: transport)
        guard c.connect(address) else { return nil }
        connections.append(c)
        return c
    }

    func remove(_ c: H2UpstreamConnection) {
        if let i = connections.firstIndex(where: { $0 === c }) { connections.remove(at: i) }
    }

    /// Retires the pool (a reload dropped this endpoint or changed its TLS settings): idle connections
    /// close now; busy ones take no new stream and close after their last one, like after a GOAWAY.
    func retire() {
        for c in connections {
            if c.owners.isEmpty { c.closeNow() } else { c.goingAway = true }
        }
    }
}
