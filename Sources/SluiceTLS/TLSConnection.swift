import COpenSSL
import SluiceCore
import Glibc

/// One TLS session over memory buffers, so the caller's event loop owns the socket.
///
/// Per readable event: `feedCiphertext` with the socket bytes, then `handshake()` until
/// complete, then `readPlaintext` while it returns `.ok`; write answers with
/// `writePlaintext` (whole batches); finally `drainCiphertext` into the socket's output
/// queue. Drain after every call that may produce records: the handshake, reads (TLS 1.3
/// tickets and key updates), writes, shutdown, and a failed handshake (the alert).
///
/// Not thread-safe: owned by the worker that owns the socket.
public final class TLSConnection {
    /// The outcome of a TLS step.
    public enum Status: Sendable {
        /// Progress made; for reads, `max` was reached and more plaintext may be waiting.
        case ok
        /// More ciphertext from the peer is needed first.
        case wantRead
        /// The peer sent close_notify: no more plaintext will come.
        case closed
        /// The session is broken (bad record, failed handshake, failed verification):
        /// drain once more so the peer gets the alert, then close the socket.
        case failed(TLSError)
    }

    /// The SSL object; owned here, freed in deinit (it owns both BIOs).
    private let ssl: OpaquePointer
    /// Network-to-TLS memory BIO (ciphertext from the socket); owned by `ssl`.
    private let rbio: OpaquePointer
    /// TLS-to-network memory BIO (ciphertext for the socket); owned by `ssl`.
    private let wbio: OpaquePointer
    /// Kept alive for the ALPN callback's argument and the SSL_CTX settings.
    private let context: TLSContext
    /// Set once the handshake fails or a record is bad; every later call reports it.
    private var failure: TLSError?
    /// Negotiated protocol, read once after the handshake.
    private var alpnCache: String??
    /// Set once any plaintext has been decrypted from the peer.
    public private(set) var receivedPlaintext = false
    /// Set when the session failed because the peer sent a fatal alert (it refused us).
    public private(set) var failedOnPeerAlert = false

    /// A connection accepting (server context) or initiating (client context) a session.
    /// For a client, `serverName` is sent as SNI (unless it is an IP address) and, when
    /// the context verifies, must match the peer's certificate.
    public init(context: TLSContext, serverName: String? = nil) {
        self.context = context
        OpenSSLErrorQueue.clear()
        // Allocation failures are the only way these fail.
        guard let ssl = SSL_new(context.ctx),
              let rbio = BIO_new(BIO_s_mem()), let wbio = BIO_new(BIO_s_mem()) else {
            fatalError("OpenSSL out of memory: \(OpenSSLErrorQueue.drain())")
        }
        self.ssl = ssl
        self.rbio = rbio
        self.wbio = wbio
        // An empty memory BIO reports "retry" (not EOF), which SSL_read maps to WANT_READ.
        SSL_set_bio(ssl, rbio, wbio)
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let serverName { configurePeerName(serverName) }
        }
    }

    deinit { SSL_free(ssl) }

    /// SNI and the name verification checks. IP literals are not sent as SNI (RFC 6066)
    /// and are matched against the certificate's IP addresses instead of DNS names.
    private func configurePeerName(_ name: String) {
        let isIP = Self.isIPLiteral(name)
        if !isIP && copenssl_set_tlsext_host_name(ssl, name) != 1 {
            failure = TLSError.fromQueue("cannot set TLS server name \(name)")
        }
        guard context.verifiesPeer else { return }
        let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) : SSL_set1_host(ssl, name)
        if ok != 1 { failure = TLSError.fromQueue("cannot verify TLS peer name \(name)") }
    }

    private static func isIPLiteral(_ name: String) -> Bool {
        var storage = in6_addr()
        return inet_pton(AF_INET, name, &storage) == 1 || inet_pton(AF_INET6, name, &storage) == 1
    }

    /// Hands ciphertext received from the socket to TLS (all of it is buffered).
    public func feedCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard var next = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let chunk = Int32(min(left, Int(Int32.max)))
            let n = BIO_write(rbio, next, chunk)
            precondition(n == chunk, "memory BIO refused bytes (out of memory)")
            next += Int(n)
            left -= Int(n)
        }
    }

    /// Advances the handshake with the ciphertext fed so far: `.ok` once complete.
    public func handshake() -> Status {
        if let failure { return .failed(failure) }
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        return result == 1 ? .ok : status(after: result, doing: "TLS handshake")
    }

    /// True once the handshake has finished.
    public var isHandshakeComplete: Bool { SSL_is_init_finished(ssl) == 1 }

    /// The protocol ALPN settled on ("h2", "http/1.1"), or nil if none was negotiated.
    public var negotiatedALPN: String? {
        if let alpnCache { return alpnCache }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        let value = data.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
        if isHandshakeComplete { alpnCache = .some(value) }
        return value
    }

    /// Decrypts up to `max` bytes, appending them to `out`. Returns the count and `.ok`
    /// (stopped at `max`: call again), `.wantRead` (ciphertext exhausted), `.closed`
    /// (close_notify; bytes before it are still returned) or `.failed`.
    public func readPlaintext(into out: inout ByteQueue, max: Int) -> (Int, Status) {
        precondition(max > 0, "readPlaintext needs room for at least one byte")
        if let failure { return (0, .failed(failure)) }
        var produced = 0
        while produced < max {
            let want = min(max - produced, 16_384)
            out.reserve(want)
            var got = 0
            OpenSSLErrorQueue.clear()
            let result = SSL_read_ex(ssl, out.writePointer, want, &got)
            if result != 1 { return (produced, status(after: result, doing: "TLS read")) }
            out.commit(got)
            produced += got
            receivedPlaintext = true
        }
        return (produced, .ok)
    }

    /// Encrypts a whole batch into records (call once per batch, not per frame: each
    /// call ends a record). `.wantRead` means the handshake is not done yet and nothing
    /// was written: retry with the same bytes after feeding more ciphertext.
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) -> Status {
        if let failure { return .failed(failure) }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .ok }
        OpenSSLErrorQueue.clear()
        var written = 0
        let result = SSL_write_ex(ssl, base, bytes.count, &written)
        // The write BIO is memory, so a successful write always takes the whole batch.
        return result == 1 ? .ok : status(after: result, doing: "TLS write")
    }

    /// Moves all pending ciphertext into `out`, for the socket.
    public func drainCiphertext(into out: inout ByteQueue) {
        while true {
            let pending = copenssl_bio_pending(wbio)
            if pending == 0 { return }
            let chunk = Int32(min(pending, Int(Int32.max)))
            out.reserve(Int(chunk))
            let n = BIO_read(wbio, out.writePointer, chunk)
            if n <= 0 { return }
            out.commit(Int(n))
        }
    }

    /// Sends close_notify (then drain and close the socket); does not wait for the
    /// peer's. Before the handshake completes there is nothing to close cleanly.
    public func shutdown() {
        guard failure == nil, isHandshakeComplete else { return }
        OpenSSLErrorQueue.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    /// Ciphertext bytes waiting for `drainCiphertext`.
    public var pendingCiphertext: Int { Int(copenssl_bio_pending(wbio)) }

    /// Maps a failed SSL call to a status, recording fatal errors.
    private func status(after result: Int32, doing what: String) -> Status {
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantRead
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            var reason = what + " failed"
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                reason += " (certificate: " + String(cString: text) + ")"
            }
            failedOnPeerAlert = copenssl_queued_peer_alert() == 1
            let error = TLSError.fromQueue(reason)
            failure = error
            return .failed(error)
        }
    }
}
