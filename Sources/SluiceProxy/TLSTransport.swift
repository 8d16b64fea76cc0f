import Glibc
import SluiceCore
import SluiceTLS

/// TLS between a connection's plaintext buffers and its socket: ciphertext read from the
/// socket goes into OpenSSL's memory BIO, plaintext comes out into the connection's input;
/// plaintext output is encrypted as one batch and written from `cipherOut`.
final class TLSTransport {
    let tls: TLSConnection
    var cipherIn = ByteQueue(capacity: 16 * 1024)
    var cipherOut = ByteQueue(capacity: 16 * 1024)
    /// Set once the handshake finished (the owner then checks ALPN once).
    private(set) var handshakeDone = false

    init(context: TLSContext) {
        tls = TLSConnection(context: context)
    }

    deinit {
        cipherIn.deallocate()
        cipherOut.deallocate()
    }

    /// True when encrypted bytes still wait for the socket.
    var hasPendingOutput: Bool { !cipherOut.isEmpty }

    /// Reads into `input` (at most `max` plaintext bytes, committed). `.bytes(0)` means the
    /// peer closed; `.wouldBlock` that nothing more is available now; `.failed` a TLS error
    /// (the alert, if any, was already written).
    func read(fd: Int32, into input: inout ByteQueue, max: Int) -> IOResult {
        while true {
            if handshakeDone {
                let (n, status) = tls.readPlaintext(into: &input, max: max)
                if n > 0 { return .bytes(n) }
                switch status {
                case .closed: return .bytes(0)
                case .failed: return .failed(EPROTO)
                default: break
                }
            }
            cipherIn.clear()
            switch SocketIO.read(fd, cipherIn.writePointer, cipherIn.writableCount) {
            case .bytes(0): return .bytes(0)
            case .bytes(let n):
                cipherIn.commit(n)
                tls.feedCiphertext(cipherIn.readable)
                if !handshakeDone {
                    let status = tls.handshake()
                    tls.drainCiphertext(into: &cipherOut)
                    _ = cipherOut.flush(to: fd)
                    switch status {
                    case .failed: return .failed(EPROTO)
                    case .closed: return .bytes(0)
                    default: break
                    }
                    if tls.isHandshakeComplete {
                        handshakeDone = true
                        return .wouldBlock   // let the owner look at ALPN before reading on
                    }
                }
            case .wouldBlock: return .wouldBlock
            case .failed(let e): return .failed(e)
            }
        }
    }

    /// Encrypts everything in `output` and writes what the socket takes. False on error.
    func write(fd: Int32, from output: inout ByteQueue) -> Bool {
        if !output.isEmpty {
            if case .failed = tls.writePlaintext(output.readable) { return false }
            output.clear()
        }
        tls.drainCiphertext(into: &cipherOut)
        return cipherOut.flush(to: fd)
    }
}

/// Client-side socket I/O shared by the HTTP/1 and HTTP/2 connections: plain, or through TLS.
enum DownstreamIO {
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
