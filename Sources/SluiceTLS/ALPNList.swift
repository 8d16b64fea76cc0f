import COpenSSL

/// An ALPN protocol list in wire form (each name prefixed by its length), in stable
/// memory: OpenSSL's select callback returns a pointer into it.
final class ALPNList {
    /// Wire bytes; owned by this object, freed in deinit.
    let bytes: UnsafeMutableBufferPointer<UInt8>
    /// Wire length (0 for an empty list).
    let count: Int

    /// Encodes `protocols`; each must be 1...255 bytes.
    init(_ protocols: [String]) throws(TLSError) {
        var wire: [UInt8] = []
        for name in protocols {
            let utf8 = Array(name.utf8)
            guard (1...255).contains(utf8.count) else {
                throw TLSError(message: "ALPN protocol name must be 1 to 255 bytes: \"\(name)\"")
            }
            wire.append(UInt8(utf8.count))
            wire.append(contentsOf: utf8)
        }
        count = wire.count
        bytes = .allocate(capacity: max(wire.count, 1))
        _ = bytes.initialize(from: wire)
    }

    deinit { bytes.deallocate() }
}

/// The server's ALPN select callback: the first protocol in the server's list that the
/// client also offers (server preference). No overlap continues without ALPN, so a
/// client that offers only something else still gets its HTTP/1.1 answer or a clean
/// protocol error rather than a handshake failure.
let alpnSelectServerPreference: SSL_CTX_alpn_select_cb_func = { _, out, outlen, clientList, clientLength, arg in
    guard let out, let outlen, let clientList, let arg else { return SSL_TLSEXT_ERR_NOACK }
    let server = Unmanaged<ALPNList>.fromOpaque(arg).takeUnretainedValue()
    guard server.count > 0 else { return SSL_TLSEXT_ERR_NOACK }
    // SSL_select_next_proto takes `unsigned char **` while the callback gets
    // `const unsigned char **`: same pointer, different constness.
    let result = out.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 1) { mutableOut in
        SSL_select_next_proto(mutableOut, outlen, server.bytes.baseAddress, UInt32(server.count),
                              clientList, clientLength)
    }
    return result == OPENSSL_NPN_NEGOTIATED ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK
}
