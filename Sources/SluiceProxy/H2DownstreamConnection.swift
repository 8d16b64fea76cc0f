import SluiceCore
import SluiceHTTP2
import SluiceStats

/// A client connection speaking HTTP/2 (prior-knowledge h2c, or h2 negotiated by ALPN).
/// Each stream is an `H2StreamExchange` with its own upstream; this object owns the socket,
/// the nghttp2 server session and the stream table, and writes once per loop iteration.
final class H2DownstreamConnection: EventHandler {
    /// unowned(unsafe): a worker outlives every connection and exchange on its loop (it never
    /// deinitialises while its thread runs), so the checked retain of `unowned` buys nothing here.
    unowned(unsafe) let worker: Worker
    let events: H2ServerEvents
    var session: H2Session!
    /// Bytes read for nghttp2; a worker pool block only while reading (nghttp2 takes all of it).
    var input = ByteQueue()
    /// Frames for the client; a worker pool block only while frames wait to be written.
    var output = ByteQueue()
    let streams = StreamTable<H2StreamExchange>()
    private var free: [H2StreamExchange] = []
    /// The stream `withStream` found last, unretained: `streams` holds it, and
    /// `streamClosed`/`close` clear it before it leaves `streams`.
    private var last: Unmanaged<H2StreamExchange>?
    private var lastID: Int32 = 0
    var closed = false
    let peerIP: [UInt8]
    /// Negotiated over TLS (x-forwarded-proto).
    let isTLS: Bool
    /// The peer shut down its side: read to EOF instead of trusting short reads (see DownstreamConnection).
    var peerHungUp = false
    /// Stop feeding nghttp2 while our output is backed up.
    var readPaused = false
    /// When bytes last moved on this connection, either way (for `limits.idle_timeout`); while
    /// nghttp2 reads, the loop's time of this iteration (streams use it for their deadlines).
    private(set) var lastActivity: UInt64 = 0
    /// Streams whose deadline passed, collected before they are told (kept to reuse its storage).
    private var expired: [H2StreamExchange] = []

    static let highWater = 512 * 1024

    /// Takes over a socket from an HTTP/1 connection that saw the HTTP/2 preface;
    /// `buffered` holds the bytes read so far (the preface onwards).
    /// TLS when negotiated by ALPN (nil: prior-knowledge h2c).
    let transport: TLSTransport?

    init(worker: Worker, peerIP: [UInt8], buffered: UnsafeRawBufferPointer, transport: TLSTransport?) {
        self.worker = worker
        self.transport = transport
        isTLS = transport != nil
        self.peerIP = peerIP
        events = H2ServerEvents()
        super.init()
        events.connectionRef = Unmanaged.passUnretained(self)
        let limits = worker.snapshot.limits
        session = H2Session.server(handler: events, limits: H2Limits(maxHeaderListBytes: limits.maxRequestHeaders,
                                                                       maxHeaderCount: limits.maxHeaderCount),
                                   allocator: worker.h2Allocator)
        if !input.hasStorage { input.attach(worker.buffers) }
        input.append(buffered)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// Called right after the loop transferred the fd to this handler.
    func start() {
        lastActivity = worker.loop.now
        deadline = worker.loop.now + worker.snapshot.limits.idleTimeoutNanos
        feed()
        onReadable()
    }

    override func handleEvent(_ events: UInt32) {
        if events & (EventLoop.readHangup | EventLoop.hangup | EventLoop.error) != 0 { peerHungUp = true }
        if events & EventLoop.writable != 0 { writeOut() }
        if !closed, events & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
            onReadable()
        }
    }

    private func onReadable() {
        // `feed` hands nghttp2 everything read, so the block goes back once the socket is drained.
        defer { input.detach(to: worker.buffers) }
        while !closed, !readPaused {
            if !input.hasStorage { input.attach(worker.buffers) }
            input.reserve(16 * 1024)
            let room = input.writableCount
            switch TransportIO.read(fd, transport, into: &input, max: room) {
            case .bytes(0), .failed:
                close()
                return
            case .bytes(let n):
                feed()
                if n < room && transport == nil && !peerHungUp { return }
            case .wouldBlock:
                return
            }
        }
    }

    /// Hands buffered bytes to nghttp2, then writes what it produced.
    private func feed() {
        guard !input.isEmpty else { return }
        worker.refreshSnapshot()
        lastActivity = worker.loop.now
        let ok = session.receive(input.readable)
        input.clear()
        if !ok { worker.increment(.requestsParsedError) }
        handleDeferred()
    }

    /// Asks for one write after the current batch of events.
    @inline(__always)
    func scheduleWrite() { worker.loop.deferWork(self) }

    override func handleDeferred() {
        guard !closed else { return }
        if pendingOutput < H2DownstreamConnection.highWater {
            if !output.hasStorage { output.attach(worker.buffers) }
            session.flush(into: &output, limit: H2DownstreamConnection.highWater - pendingOutput)
        }
        writeOut()
    }

    /// Writes pending bytes; closes once nghttp2 neither reads nor writes.
    private func writeOut() {
        guard !closed else { return }
        if pendingOutput > 0 { lastActivity = worker.loop.now }
        if !writeOutput() { close(); return }
        if pendingOutput == 0 && session.wantsWrite {
            if !output.hasStorage { output.attach(worker.buffers) }
            session.flush(into: &output, limit: H2DownstreamConnection.highWater)
            if !writeOutput() { close(); return }
        }
        let backedUp = pendingOutput >= H2DownstreamConnection.highWater
        if readPaused && !backedUp {
            readPaused = false
            onReadable()
        } else if backedUp {
            readPaused = true
        }
        if pendingOutput == 0 && !session.wantsRead && !session.wantsWrite { close() }
        // Everything written: the block goes back until the session has frames again.
        output.detach(to: worker.buffers)
    }

    @inline(__always)
    private func writeOutput() -> Bool {
        TransportIO.write(fd, transport, from: &output)
    }

    /// Bytes waiting for the client (plaintext and, with TLS, ciphertext).
    private var pendingOutput: Int { output.count + (transport?.cipherOut.count ?? 0) }

    /// Every open stream's own deadline (``ExchangeTimer``: request body idle, request timeout up
    /// to the last response byte), then the connection's: after `limits.idle_timeout` without a
    /// byte either way and with no stream waiting for a backend (those are bounded by their
    /// request timeout), GOAWAY and close.
    ///
    /// The connection's `deadline` is the earliest of its streams' and its idle deadline: a
    /// stream lowers it when it sets an earlier one (``H2StreamExchange/armDeadline()``); deadlines
    /// that moved later are found here, when the connection's fires, and it is recomputed.
    override func handleTimeout(now: UInt64) {
        if !streams.isEmpty {
            streams.forEach { _, s in if s.deadline != 0 && s.deadline <= now { expired.append(s) } }
            for s in expired where !closed && streams[s.id] === s { s.timedOut() }
            if !expired.isEmpty {
                expired.removeAll(keepingCapacity: true)
                handleDeferred()
            }
            if closed { return }
        }
        let idle = worker.snapshot.limits.idleTimeoutNanos
        let idleAt = lastActivity &+ idle
        var next = UInt64.max
        var waiting = false
        streams.forEach { _, s in
            if s.deadline != 0 && s.deadline < next { next = s.deadline }
            if s.awaitsBackend { waiting = true }
        }
        if now >= idleAt {
            if !waiting {
                worker.increment(.idleTimeouts)
                session.goAway()
                handleDeferred()
                close()
                return
            }
            // Idle, but a stream waits for its backend: its own deadline bounds it.
            deadline = next == UInt64.max ? now &+ idle : max(next, now &+ 1)
        } else {
            deadline = max(min(next, idleAt), now &+ 1)
        }
    }

    /// Drain: GOAWAY now, close when the streams in flight finished.
    func beginDrain() {
        session.goAway()
        handleDeferred()   // the GOAWAY goes out now, before a close below
        if streams.isEmpty { close() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        last = nil
        lastID = 0
        // A copy: an exchange's abort may reach back into the table.
        for s in streams.allValues { s.abort() }
        streams.removeAll()
        worker.loop.close(self)
        input.clear()
        output.clear()
        input.detach(to: worker.buffers)
        output.detach(to: worker.buffers)
        worker.connectionClosed()
    }

    // MARK: streams

    func stream(_ id: Int32) -> H2StreamExchange? { streams[id] }

    /// Runs `body` with the exchange of stream `id`, if open. nghttp2 calls back for the same
    /// stream many times in a row (one header field per call), so the last one found is kept:
    /// no hashing, and no retain, per field. Borrowing is safe because an exchange leaves
    /// `streams` only in `streamClosed` and `close`: nghttp2 closes streams between callbacks or
    /// while flushing, and no exchange method flushes the session or closes the connection.
    @inline(__always)
    func withStream(_ id: Int32, _ body: (H2StreamExchange) -> Void) {
        if id != lastID || last == nil {
            guard let s = streams[id] else { return }
            lastID = id
            last = Unmanaged.passUnretained(s)
        }
        last!._withUnsafeGuaranteedRef(body)
    }

    func openStream(_ id: Int32) -> H2StreamExchange {
        let s = free.popLast() ?? H2StreamExchange(connection: self)
        s.begin(id: id)
        streams[id] = s
        lastID = id
        last = Unmanaged.passUnretained(s)
        return s
    }

    /// The stream closed on the session: release its exchange.
    func streamClosed(_ id: Int32, errorCode: UInt32) {
        if id == lastID { last = nil; lastID = 0 }
        guard let s = streams.removeValue(forKey: id) else { return }
        s.closedByPeer(errorCode: errorCode)
        if free.count < 32 { free.append(s) }
        if worker.draining && streams.isEmpty { scheduleWrite() }
    }
}

/// Forwards nghttp2 server events to the connection and its streams.
final class H2ServerEvents: H2SessionHandler {
    /// Unretained: the connection owns this object and its session, and outlives both.
    var connectionRef: Unmanaged<H2DownstreamConnection>!

    var connection: H2DownstreamConnection { connectionRef.takeUnretainedValue() }

    /// Runs `body` with the exchange of `stream`, borrowing the connection and the exchange.
    @inline(__always)
    private func withStream(_ stream: Int32, _ body: (H2StreamExchange) -> Void) {
        connectionRef._withUnsafeGuaranteedRef { $0.withStream(stream, body) }
    }

    override func streamHeadersBegin(stream: Int32) {
        connectionRef._withUnsafeGuaranteedRef { c in
            if c.stream(stream) == nil { _ = c.openStream(stream) }
        }
    }

    override func streamHeader(stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        withStream(stream) { $0.header(name: name, value: value) }
    }

    override func streamHeadersEnd(stream: Int32, endStream: Bool, isTrailers: Bool) {
        withStream(stream) { $0.headersEnd(endStream: endStream, isTrailers: isTrailers) }
    }

    override func streamData(stream: Int32, bytes: UnsafeRawBufferPointer) {
        withStream(stream) { $0.requestData(bytes) }
    }

    override func streamEnd(stream: Int32) {
        withStream(stream) { $0.requestEnd() }
    }

    override func streamClosed(stream: Int32, errorCode: UInt32) {
        connectionRef._withUnsafeGuaranteedRef { $0.streamClosed(stream, errorCode: errorCode) }
    }

    override func streamWantsData(stream: Int32) {
        withStream(stream) { $0.downstreamWantsData() }
    }

    override func limitExceeded(stream: Int32, reason: StaticString) {
        connection.worker.increment(.h2LimitResets)
    }
}
