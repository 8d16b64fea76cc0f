import COpenSSL

/// TLS settings shared by many connections: a server identity (certificate chain, key,
/// ALPN preference) or an upstream client policy (trust roots, verification, client
/// certificate, ALPN offer).
/// Immutable once built; a certificate reload builds a new context and hands it to new
/// connections, while live connections keep the one they started with.
///
/// `@unchecked Sendable`: every worker thread reads the same SSL_CTX. OpenSSL documents
/// an SSL_CTX as safe to share across threads once configured (SSL_new only bumps its
/// atomic reference count; the session cache has its own lock), and nothing here
/// mutates it after the factory returns.
public final class TLSContext: @unchecked Sendable {
    /// The configured SSL_CTX; owned by this object, freed in deinit (connections hold
    /// their own OpenSSL reference and a Swift reference to this object).
    let ctx: OpaquePointer
    /// True for a server (accepting) context.
    let isServer: Bool
    /// True when a client context verifies the peer certificate and host name.
    let verifiesPeer: Bool
    /// The server's ALPN preference, read by the select callback through its `arg`.
    private let alpnList: ALPNList

    private init(ctx: OpaquePointer, isServer: Bool, verifiesPeer: Bool, alpnList: ALPNList) {
        self.ctx = ctx
        self.isServer = isServer
        self.verifiesPeer = verifiesPeer
        self.alpnList = alpnList
    }

    deinit { SSL_CTX_free(ctx) }

    /// A server context: loads a PEM certificate chain (leaf first) and its PEM private
    /// key, checks they match, and selects ALPN from `alpn` in server-preference order.
    /// TLS 1.2 minimum, no renegotiation. Errors name the file and OpenSSL's reason.
    public static func server(certificatePath: String, privateKeyPath: String,
                              alpn: [String] = ["h2", "http/1.1"]) throws(TLSError) -> TLSContext {
        let list = try ALPNList(alpn)
        OpenSSLErrorQueue.clear()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.fromQueue("cannot create TLS server context")
        }
        // From here the context owns `ctx`, so an early throw frees it.
        let context = TLSContext(ctx: ctx, isServer: true, verifiesPeer: false, alpnList: list)
        try context.applyCommonSettings()
        _ = SSL_CTX_set_options(ctx, copenssl_op_cipher_server_preference)
        try context.useIdentity(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        SSL_CTX_set_alpn_select_cb(ctx, alpnSelectServerPreference,
                                   Unmanaged.passUnretained(list).toOpaque())
        return context
    }

    /// A client context for upstream TLS. With `verify`, the peer chain is checked against
    /// `caFile` (PEM, may hold several certificates) or the system roots, and the
    /// connection's `serverName` against the certificate. With `clientCertificate`, that PEM
    /// chain and key (checked to match) are presented when the server asks for a certificate
    /// (mutual TLS). `alpn` is offered in order.
    public static func client(caFile: String? = nil, verify: Bool = true,
                              clientCertificate: (certificatePath: String, privateKeyPath: String)? = nil,
                              alpn: [String] = ["h2"]) throws(TLSError) -> TLSContext {
        let list = try ALPNList(alpn)
        OpenSSLErrorQueue.clear()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.fromQueue("cannot create TLS client context")
        }
        let context = TLSContext(ctx: ctx, isServer: false, verifiesPeer: verify, alpnList: list)
        try context.applyCommonSettings()
        if verify {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            if let caFile {
                guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                    throw TLSError.fromQueue("TLS CA file \(caFile): cannot load PEM certificates", source: .caFile)
                }
            } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                throw TLSError.fromQueue("cannot load the system's trusted CA certificates")
            }
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        if let clientCertificate {
            try context.useIdentity(certificatePath: clientCertificate.certificatePath,
                                    privateKeyPath: clientCertificate.privateKeyPath)
        }
        // Unlike nearly every other OpenSSL call, this one returns 0 on success.
        if list.count > 0, SSL_CTX_set_alpn_protos(ctx, list.bytes.baseAddress, UInt32(list.count)) != 0 {
            throw TLSError.fromQueue("cannot set the ALPN offer \(alpn)")
        }
        return context
    }

    /// Loads the certificate chain (leaf first) and private key this side presents, both PEM,
    /// and checks that they match. Errors name the file, its role and OpenSSL's reason.
    private func useIdentity(certificatePath: String, privateKeyPath: String) throws(TLSError) {
        // An encrypted key would otherwise make OpenSSL prompt on the terminal.
        SSL_CTX_set_default_passwd_cb(ctx, { _, _, _, _ in 0 })
        guard SSL_CTX_use_certificate_chain_file(ctx, certificatePath) == 1 else {
            throw TLSError.fromQueue("TLS certificate \(certificatePath): cannot load PEM certificate chain",
                                     source: .certificate)
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, privateKeyPath, copenssl_filetype_pem) == 1 else {
            // OpenSSL 3 already rejects a key that does not match the loaded certificate
            // here ("key values mismatch"), before SSL_CTX_check_private_key runs.
            throw TLSError.fromQueue("TLS private key \(privateKeyPath) (for certificate \(certificatePath))"
                                     + " cannot be loaded or does not match", source: .privateKey)
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.fromQueue("TLS private key \(privateKeyPath) does not match certificate \(certificatePath)",
                                     source: .privateKey)
        }
    }

    /// Settings both sides share: TLS 1.2 minimum, no renegotiation or compression, and
    /// buffer modes that suit an event loop (idle connections release their record
    /// buffers; a retried write may come from a moved buffer).
    private func applyCommonSettings() throws(TLSError) {
        guard copenssl_ctx_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 else {
            throw TLSError.fromQueue("cannot require TLS 1.2 or later")
        }
        _ = SSL_CTX_set_options(ctx, copenssl_op_no_renegotiation | copenssl_op_no_compression)
        _ = copenssl_ctx_set_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
    }
}
