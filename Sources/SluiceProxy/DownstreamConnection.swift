import Glibc
import SluiceCore
import SluiceHTTP1
import SluiceHTTP2
import SluiceTLS
import SluiceRouting
import SluiceStats

/// One client connection speaking HTTP/1.1, with at most one exchange in flight
/// (pipelined requests wait in `input`). It owns the upstream connection of that exchange.
final class DownstreamConnection: ExchangeHandler, ExchangeAdapter {
    /// `peek`: the head is parsed and the route waits for body bytes naming the model
    /// (`match.model`); the body stays in `input` until the route is chosen.
    enum Phase { case idle, head, peek, exchange, closing, lingering, closed }

    /// unowned(unsafe): a worker outlives every connection and exchange on its loop (it never
    /// deinitialises while its thread runs), so the checked retain of `unowned` buys nothing here.
    unowned(unsafe) let worker: Worker
    /// Request bytes; a worker pool block while bytes arrive or wait, none while idle (see
    /// `releaseIdleBuffers`). Its block size is the most a request head can take.
    var input = ByteQueue()
    /// Response bytes; a pool block from the start of a request until the response is written.
    var output = ByteQueue()
    var parser: RequestHeadParser
    var head = RequestHead()
    var phase = Phase.idle
    var peerIP: [UInt8] = []
    var requestsServed = 0
    /// Stop reading the socket: the upstream cannot take more, or pipelined input waits.
    var readPaused = false
    /// Inside `onReadable`'s loop: resumption just clears `readPaused` instead of recursing.
    var inReadLoop = false
    /// The exchange in flight (valid in `.exchange`).
    var exchange = Exchange()
    var upstream: UpstreamConnection?
    /// Reads the HTTP/1.1 backend's response (head, then body by its framing).
    var reader = UpstreamResponseReader()
    var requestChunks = ChunkedDecoder()
    /// Request bytes kept to retry once when a pooled connection turns out to be stale.
    var replay: [UInt8] = []
    /// Response header block from an HTTP/2 upstream, written out as HTTP/1.1 once complete.
    var h2Block = H2HeaderBlock()
    /// Scratch for re-encoding request headers for an HTTP/2 upstream.
    var h2Scratch: [UInt8] = []
    /// Scratch for the payload ranges of a chunked response decoded for an HTTP/1.0 client.
    var payloadRanges: [Range<Int>] = []
    /// Method and path of a request sampled for the access log (copied: `input` moves on).
    var logScratch: [UInt8] = []
    /// `100 Continue` was sent while peeking at the body (not sent again when the exchange starts).
    var continueSent = false

    /// Output above this pauses the side that feeds it.
    static let highWater = 256 * 1024

    /// The peer shut down its side (EPOLLRDHUP/HUP seen). From then on a short read no longer
    /// proves the socket is drained: the FIN may sit behind the last data, and edge-triggered
    /// epoll will not report it again, so reads continue until EOF or EAGAIN.
    var peerHungUp = false
    /// TLS on a `tls:` listener (nil: cleartext).
    var transport: TLSTransport?
    /// ALPN looked at once after the handshake.
    var alpnChecked = false

    init(worker: Worker, peer: UnsafeRawPointer, tls: TLSContext?) {
        self.worker = worker
        if let tls { transport = TLSTransport(context: tls, buffers: worker.buffers) }
        let limits = worker.snapshot.limits
        parser = RequestHeadParser(limits: HTTP1Limits(maxHeadBytes: limits.maxRequestHeaders, maxHeaderCount: limits.maxHeaderCount))
        super.init()
        Sockets.peerIP(peer, into: &peerIP)
        exchange.requestID.reserveCapacity(64)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    /// True between requests with nothing buffered (drain may close it).
    var isIdle: Bool { phase == .idle && input.isEmpty }

    /// Between requests with nothing to read or write: gives both buffers back to the worker's
    /// pool, so a kept-alive connection costs its object and socket only. The next bytes take a
    /// block again (`onReadable`).
    func releaseIdleBuffers() {
        guard phase == .idle, input.isEmpty, output.isEmpty else { return }
        let pool = worker.buffers
        input.detach(to: pool)
        output.detach(to: pool)
    }

    func start() {
        deadline = worker.loop.now + worker.snapshot.limits.requestHeaderTimeoutNanos
        onReadable()
    }

    override func handleEvent(_ events: UInt32) {
        if events & (EventLoop.readHangup | EventLoop.hangup | EventLoop.error) != 0 { peerHungUp = true }
        if events & EventLoop.writable != 0 { flushOutput() }
        if phase != .closed, events & (EventLoop.readable | EventLoop.hangup | EventLoop.error | EventLoop.readHangup) != 0 {
            onReadable()
        }
    }

    // Upstream callbacks (overrides must live in the class body; the logic is in the extensions).
    override func upstreamConnected() { handleUpstreamConnected() }
    override func upstreamReadable() { handleUpstreamReadable() }
    // Only a paused reader has anything to do when the upstream drains (most responses never pause).
    override func upstreamDrained() { if readPaused { handleUpstreamDrained() } }
    override func upstreamEOF() { handleUpstreamEOF() }
    override func upstreamFailed(_ failure: UpstreamFailure) { handleUpstreamFailed(failure) }
    override func upstreamTimedOut() { handleUpstreamTimedOut() }
    override func h2ResponseHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, isTrailers: Bool) {
        h2Header(name: name, value: value, isTrailers: isTrailers)
    }
    override func h2ResponseHeadersEnd(endStream: Bool, isTrailers: Bool) { h2HeadersEnd(endStream: endStream, isTrailers: isTrailers) }
    override func h2ResponseData(_ bytes: UnsafeRawBufferPointer) { h2Data(bytes) }
    override func h2ResponseEnd() { h2End() }
    override func h2StreamClosed(errorCode: UInt32) { h2Closed(errorCode: errorCode) }
    override func h2UpstreamWantsData() { h2WantsData() }

    // MARK: reading

    func onReadable() {
        if inReadLoop { return }
        inReadLoop = true
        defer { inReadLoop = false }
        while !readPaused {
            switch phase {
            case .closed, .closing: return
            case .lingering:
                if !discardInput() { return }
                continue
            default: break
            }
            if !input.hasStorage { input.attach(worker.buffers) }
            let room = input.compactForRead()
            if room == 0 {
                // Full of a pipelined request (or a head at the size limit, which the parser rejects).
                readPaused = true
                return
            }
            switch readIntoInput(room) {
            case .bytes(0):
                clientClosed()
                return
            case .bytes(let n):
                process()
                // A short plain read drained the socket (edge-triggered); TLS may hold more.
                if n < room && transport == nil && !peerHungUp {
                    releaseIdleBuffers()
                    return
                }
            case .wouldBlock:
                guard let t = transport, t.handshakeDone, !alpnChecked else {
                    releaseIdleBuffers()
                    return
                }
                alpnChecked = true
                if t.tls.negotiatedALPN == "h2" {
                    worker.switchToHTTP2(self)
                    return
                }
            case .failed:
                if transport != nil && !alpnChecked {
                    worker.increment(.tlsHandshakeFailures)
                }
                clientClosed()
                return
            }
        }
    }

    /// Reads (and decrypts, on a TLS listener) into `input`, committing what arrived.
    @inline(__always)
    private func readIntoInput(_ room: Int) -> IOResult {
        TransportIO.read(fd, transport, into: &input, max: room)
    }

    /// Writes `output` (encrypting on a TLS listener); false when the socket failed.
    @inline(__always)
    private func writeOutput() -> Bool {
        TransportIO.write(fd, transport, from: &output)
    }

    /// Bytes waiting for the client (plaintext and, with TLS, ciphertext).
    var pendingOutput: Int { output.count + (transport?.cipherOut.count ?? 0) }

    /// Interprets buffered input for the current phase.
    func process() {
        switch phase {
        case .idle, .head:
            if input.isEmpty { return }
            if phase == .idle && requestsServed == 0 && input.readable[0] == UInt8(ascii: "P") {
                switch H2Preface.detect(input.readable) {
                case .needMore: return
                case .h2:
                    worker.switchToHTTP2(self)
                    return
                case .notH2: break
                }
            }
            if phase == .idle {
                phase = .head
                continueSent = false
                deadline = worker.loop.now + worker.snapshot.limits.requestHeaderTimeoutNanos
                // A response (or an error) will be written: take its buffer now, not mid-write.
                if !output.hasStorage { output.attach(worker.buffers) }
            }
            switch parser.parse(input.readable, into: &head) {
            case .incomplete:
                return
            case .error(let e):
                worker.increment(e.status == 431 || e.status == 414 ? .headersTooLarge : .requestsParsedError)
                generateRequestID()
                sendError(status: e.status, code: e.code, message: e.message)
            case .complete:
                beginExchange()
            }
        case .peek:
            beginExchange()
        case .exchange:
            pumpRequestBody()
        default:
            return
        }
    }

    private func generateRequestID() {
        worker.generateRequestID(into: &exchange.requestID)
    }

    // MARK: closing

    /// The client went away (EOF or error).
    func clientClosed() {
        if phase == .exchange {
            worker.increment(.clientDisconnects)
            perform(exchange.machine.clientGone())
        }
        close()
    }

    /// Closes the socket and the exchange's upstream connection, if any.
    func close() {
        guard phase != .closed else { return }
        phase = .closed
        releaseUpstream(.close)
        worker.loop.close(self)
        input.clear()
        output.clear()
        input.detach(to: worker.buffers)
        output.detach(to: worker.buffers)
        worker.connectionClosed()
    }

    /// After an error response: send it, then stop writing and read until the client closes
    /// (lingering close), so unread request bytes do not turn our FIN into a reset that
    /// destroys the response before the client reads it.
    func closeAfterFlush() {
        phase = .closing
        // The answer gets body_idle_timeout to be taken; a client that never reads it does not
        // hold the connection.
        deadline = worker.loop.now + worker.snapshot.limits.bodyIdleTimeoutNanos
        flushOutput()
    }

    private func finishClosing() {
        shutdown(fd, Int32(SHUT_WR))
        phase = .lingering
        input.clear()
        deadline = worker.loop.now + 2_000_000_000
        _ = discardInput()
    }

    /// Reads and drops bytes while lingering; returns true if more may come.
    private func discardInput() -> Bool {
        if !input.hasStorage { input.attach(worker.buffers) }
        while true {
            input.clear()
            switch SocketIO.read(fd, input.writePointer, input.writableCount) {
            case .bytes(0), .failed:
                close()
                return false
            case .bytes:
                continue
            case .wouldBlock:
                return false
            }
        }
    }

    override func handleTimeout(now: UInt64) {
        switch phase {
        case .idle:
            worker.increment(.idleTimeouts)
            close()
        case .lingering, .closing:
            close()
        case .head:
            worker.increment(.headerTimeouts)
            generateRequestID()
            sendError(status: 408, code: "request_timeout", message: "request head not received in time")
        case .peek:
            worker.increment(.bodyTimeouts)
            generateRequestID()
            sendError(status: 408, code: "request_timeout", message: "request body naming the model not received in time")
        case .exchange:
            upstreamTimedOut()
        case .closed:
            break
        }
    }

    // MARK: writing

    /// Writes pending output; on drain, resumes a paused upstream or completes a close.
    func flushOutput() {
        guard phase != .closed, phase != .lingering else { return }
        if !writeOutput() {
            clientClosed()
            return
        }
        if pendingOutput == 0 {
            if phase == .idle {
                releaseIdleBuffers()
            } else if phase == .closing {
                finishClosing()
            } else if exchange.h2Unconsumed > 0, let h2 = exchange.h2Upstream {
                h2.session.consume(stream: exchange.h2Stream, exchange.h2Unconsumed)
                exchange.h2Unconsumed = 0
                h2.scheduleWrite()
            } else if let up = upstream, up.readPaused {
                up.readPaused = false
                up.readAvailable()
            }
        }
    }

    /// Answers with a JSON error Sluice produced and closes the connection after it (nothing of
    /// a response was sent yet: the exchange machine cuts a started one instead).
    func sendError(status: Int, code: String, message: String) {
        worker.increment(.localErrorResponses)
        let bytes = HTTP1Encoder.errorResponse(status: status, code: code, message: message, requestID: exchange.requestID)
        output.append(bytes)
        closeAfterFlush()
    }
}
