import Glibc
import SluiceCore
import SluiceTLS

/// TLS between a connection's plaintext buffers and its socket, for either side: a client of a
/// `tls:` listener (server role) or a backend with `tls:` (client role). Ciphertext read from
/// the socket goes into OpenSSL's memory BIO, plaintext comes out into the connection's input;
/// plaintext output is encrypted as one batch and written from `cipherOut`.
///
/// With a worker's `BufferPool` the two ciphertext buffers hold a pool block only while bytes
/// move (`cipherIn` during a read, `cipherOut` until its bytes are written), so an idle TLS
/// connection holds none; without one (health probes, off the workers) each keeps 16 KiB.
final class TLSTransport {
    let tls: TLSConnection
    var cipherIn: ByteQueue
    var cipherOut: ByteQueue
    /// The owning worker's pool (nil: fixed buffers); used only on that worker's thread.
    private let buffers: BufferPool?
    /// Set once the handshake finished (the owner then checks ALPN once).
    private(set) var handshakeDone = false
    /// Why the session failed (TLS or socket), for the owner's log line.
    private(set) var failureReason: String?

    /// How far `handshake(fd:)` got.
    enum HandshakeProgress {
        /// Waiting for the peer (the socket would block).
        case pending
        /// Complete: look at ALPN, then read and write plaintext.
        case done
        /// The peer closed the connection before the handshake completed.
        case closed
        /// The handshake failed (`failureReason` says why); the alert, if any, was written.
        case failed(Int32)
    }

    /// A server session (`serverName` nil, server context) or a client session that sends
    /// `serverName` as SNI and, when the context verifies, checks the certificate against it.
    /// `buffers`: the worker's pool when the transport lives on a worker's loop.
    init(context: TLSContext, serverName: String? = nil, buffers: BufferPool? = nil) {
        tls = TLSConnection(context: context, serverName: serverName)
        self.buffers = buffers
        if buffers == nil {
            cipherIn = ByteQueue(capacity: 16 * 1024)
            cipherOut = ByteQueue(capacity: 16 * 1024)
        } else {
            cipherIn = ByteQueue()
            cipherOut = ByteQueue()
        }
    }

    /// Gives `cipherIn` a block for a read (no-op without a pool: it always has one).
    @inline(__always)
    private func attachCipherIn() {
        if let buffers { cipherIn.attach(buffers) }
    }

    /// Gives `cipherOut` a block before OpenSSL's output is drained into it.
    @inline(__always)
    private func attachCipherOut() {
        if let buffers { cipherOut.attach(buffers) }
    }

    /// Returns the ciphertext blocks that hold nothing (all of `cipherIn` was fed to OpenSSL,
    /// `cipherOut` was written) to the pool. Called when a read or write round ends.
    @inline(__always)
    private func releaseEmptyBuffers() {
        guard let buffers else { return }
        cipherIn.clear()
        cipherIn.detach(to: buffers)
        cipherOut.detach(to: buffers)
    }

    deinit {
        cipherIn.deallocate()
        cipherOut.deallocate()
    }

    /// True when encrypted bytes still wait for the socket.
    var hasPendingOutput: Bool { !cipherOut.isEmpty }

    /// Advances the handshake with whatever the socket has, writing what TLS produces (a
    /// client's first call sends its ClientHello). Call on every event until `.done`.
    func handshake(fd: Int32) -> HandshakeProgress {
        if handshakeDone { return .done }
        defer { releaseEmptyBuffers() }
        while true {
            let status = tls.handshake()
            attachCipherOut()
            tls.drainCiphertext(into: &cipherOut)
            // A failed write shows up as an error or EOF on the next read.
            _ = cipherOut.flush(to: fd)
            switch status {
            case .failed(let error):
                failureReason = error.message
                return .failed(EPROTO)
            case .closed:
                return .closed
            case .ok, .wantRead:
                break
            }
            if tls.isHandshakeComplete {
                handshakeDone = true
                return .done
            }
            attachCipherIn()
            cipherIn.clear()
            switch SocketIO.read(fd, cipherIn.writePointer, cipherIn.writableCount) {
            case .bytes(0):
                return .closed
            case .bytes(let n):
                cipherIn.commit(n)
                tls.feedCiphertext(cipherIn.readable)
            case .wouldBlock:
                return .pending
            case .failed(let e):
                failureReason = "socket: " + SocketIO.describe(e)
                return .failed(e)
            }
        }
    }

    /// Where a client (upstream) handshake stands, failures described for the log.
    enum ClientHandshake {
        case pending
        case done
        case failed(String)
    }

    /// Why a handshake that outlived the backend's connect timeout failed.
    static let handshakeTimeoutReason = "the TLS handshake did not finish within timeouts.connect"

    /// `handshake(fd:)` for a connection to a backend: the server must also select ALPN
    /// `alpn` (or, unless `alpnRequired`, select nothing, meaning that protocol by default).
    func clientHandshake(fd: Int32, alpn: String, alpnRequired: Bool) -> ClientHandshake {
        switch handshake(fd: fd) {
        case .pending:
            return .pending
        case .closed:
            return .failed("the backend closed the connection during the TLS handshake")
        case .failed:
            return .failed(failureReason ?? "TLS handshake failed")
        case .done:
            let selected = tls.negotiatedALPN
            if selected == alpn || (selected == nil && !alpnRequired) { return .done }
            return .failed("the backend did not select ALPN \(alpn) (\(selected.map { "it selected " + $0 } ?? "it selected none"))")
        }
    }

    /// Why a backend refused the session after a client handshake that had completed on this
    /// side, or nil; asked when a read or write of a connection to a backend failed. With TLS
    /// 1.3 the client's handshake ends before the server has checked the client certificate; a
    /// server that rejects it (missing, untrusted) sends its alert afterwards and closes. A
    /// session that fails on a peer's alert before any plaintext arrived was refused, like a
    /// failed handshake. A write can fail on the reset that follows the alert before the alert
    /// was read, so what the socket still holds is read first.
    func refusalAfterHandshake(fd: Int32) -> String? {
        guard handshakeDone, !tls.receivedPlaintext else { return nil }
        if !tls.failedOnPeerAlert {
            var rest = ByteQueue(capacity: 4096)
            defer { rest.deallocate() }
            _ = read(fd: fd, into: &rest, max: 4096)
        }
        guard tls.failedOnPeerAlert else { return nil }
        return "the backend refused the TLS session after the handshake: " + (failureReason ?? "TLS alert")
    }

    /// Reads into `input` (at most `max` plaintext bytes, committed). `.bytes(0)` means the
    /// peer closed; `.wouldBlock` that nothing more is available now, or that the handshake just
    /// completed (the owner checks ALPN, then reads on); `.failed` a TLS or socket error (the
    /// alert, if any, was already written).
    func read(fd: Int32, into input: inout ByteQueue, max: Int) -> IOResult {
        if !handshakeDone {
            switch handshake(fd: fd) {
            case .pending, .done: return .wouldBlock
            case .closed: return .bytes(0)
            case .failed(let e): return .failed(e)
            }
        }
        defer { releaseEmptyBuffers() }
        while true {
            let (n, status) = tls.readPlaintext(into: &input, max: max)
            if n > 0 { return .bytes(n) }
            switch status {
            case .closed: return .bytes(0)
            case .failed(let error):
                failureReason = error.message
                return .failed(EPROTO)
            case .ok, .wantRead: break
            }
            attachCipherIn()
            cipherIn.clear()
            switch SocketIO.read(fd, cipherIn.writePointer, cipherIn.writableCount) {
            case .bytes(0): return .bytes(0)
            case .bytes(let n):
                cipherIn.commit(n)
                tls.feedCiphertext(cipherIn.readable)
            case .wouldBlock: return .wouldBlock
            case .failed(let e): return .failed(e)
            }
        }
    }

    /// Writes pending ciphertext, then, once it is all out and the handshake is done,
    /// encrypts everything in `output` and writes what the socket takes. Plaintext waits in
    /// `output` while the socket is backed up, so its size stays the owner's backpressure
    /// signal. False on error.
    func write(fd: Int32, from output: inout ByteQueue) -> Bool {
        defer { releaseEmptyBuffers() }
        if !cipherOut.isEmpty {
            guard cipherOut.flush(to: fd) else { return false }
            if !cipherOut.isEmpty { return true }
        }
        if handshakeDone && !output.isEmpty {
            if case .failed(let error) = tls.writePlaintext(output.readable) {
                failureReason = error.message
                return false
            }
            output.clear()
        }
        attachCipherOut()
        tls.drainCiphertext(into: &cipherOut)
        return cipherOut.flush(to: fd)
    }
}

/// Socket I/O shared by every connection, downstream (HTTP/1 and HTTP/2 clients) and upstream
/// (HTTP/1.1 and HTTP/2 backends): plain, or through TLS when a transport is given.
enum TransportIO {
    /// Reads into `input` (at most `max` bytes, committed).
    @inline(__always)
    static func read(_ fd: Int32, _ transport: TLSTransport?, into input: inout ByteQueue, max: Int) -> IOResult {
        guard let t = transport else {
            let r = SocketIO.read(fd, input.writePointer, max)
            if case .bytes(let n) = r { input.commit(n) }
            return r
        }
        return t.read(fd: fd, into: &input, max: max)
    }

    /// Writes `output` (encrypting first with TLS); false when the socket failed.
    @inline(__always)
    static func write(_ fd: Int32, _ transport: TLSTransport?, from output: inout ByteQueue) -> Bool {
        guard let t = transport else { return output.flush(to: fd) }
        return t.write(fd: fd, from: &output)
    }
}

/// A listener's TLS setup, looked up per accepted connection.
extension ProxySnapshot {
    /// The TLS context of listener `name`, if it has `tls:`.
    func tlsContext(listener name: String) -> TLSContext? { tlsContexts[name] }
}
